using PCache.Core;

namespace PCache.Module.Tests;

/// <summary>
/// The test double of a running cmdlet: records every stream and answers ShouldProcess as told
/// (false plays -WhatIf, or "No" at a -Confirm prompt).
/// </summary>
internal sealed class RecordingSink(bool shouldProcess = true, CancellationToken stopping = default) : ICommandSink
{
    private readonly object _gate = new();

    public List<object> Objects { get; } = [];
    public List<PCacheError> Errors { get; } = [];
    public List<string> Verbose { get; } = [];
    public List<string> Warnings { get; } = [];
    public List<ProgressReport> Progress { get; } = [];
    public List<(string Target, string Action)> ShouldProcessCalls { get; } = [];

    /// <summary>Called on each progress report (e.g. to press Ctrl+C mid-operation).</summary>
    public Action<ProgressReport>? OnProgress { get; init; }

    /// <summary>Called on each object written.</summary>
    public Action<object>? OnObject { get; init; }

    public CancellationToken Stopping => stopping;

    public bool ShouldProcess(string target, string action)
    {
        lock (_gate) ShouldProcessCalls.Add((target, action));
        return shouldProcess;
    }

    /// <summary>What ShouldContinue answers (false plays "No" at the prompt).</summary>
    public bool ContinueAnswer { get; init; } = true;

    public List<(string Query, string Caption)> ShouldContinueCalls { get; } = [];

    public bool ShouldContinue(string query, string caption)
    {
        lock (_gate) ShouldContinueCalls.Add((query, caption));
        return ContinueAnswer;
    }

    public void WriteObject(object item)
    {
        lock (_gate) Objects.Add(item);
        OnObject?.Invoke(item);
    }

    public void WriteError(PCacheError error)
    {
        lock (_gate) Errors.Add(error);
    }

    public void WriteVerbose(string text)
    {
        lock (_gate) Verbose.Add(text);
    }

    public void WriteWarning(string text)
    {
        lock (_gate) Warnings.Add(text);
    }

    public void WriteProgress(ProgressReport progress)
    {
        lock (_gate) Progress.Add(progress);
        OnProgress?.Invoke(progress);
    }

    public T Single<T>() => Assert.IsType<T>(Assert.Single(Objects));

    public List<T> All<T>() => Objects.Select(o => Assert.IsType<T>(o)).ToList();

    public void AssertNoErrors() =>
        Assert.True(Errors.Count == 0, "unexpected errors: " + string.Join("; ", Errors));

    public PCacheError SingleError(string errorId)
    {
        var e = Assert.Single(Errors);
        Assert.True(e.ErrorId == errorId, $"expected {errorId}, got {e}");
        return e;
    }
}

using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Language;
using PCache.Core;

namespace PCache.Commands;

/// <summary>Completes -BackingId from the daemon, limited to the -CacheId already typed.</summary>
public sealed class BackingIdCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completers.Results(Completion.BackingIds(Completers.Client(fakeBoundParameters), wordToComplete, Completers.CacheId(fakeBoundParameters)));
}

/// <summary>Completes -CacheId with the started caches.</summary>
public sealed class CacheIdCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completers.Results(Completion.CacheIds(Completers.Client(fakeBoundParameters), wordToComplete));
}

/// <summary>Completes -Path of Get-PCacheBacking with the paths of attached backings.</summary>
public sealed class BackingPathCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completers.Results(Completion.BackingPaths(Completers.Client(fakeBoundParameters), wordToComplete, Completers.Absolute(wordToComplete)));
}

/// <summary>Completes -Path of Get-PCacheCache with the paths of started cache devices.</summary>
public sealed class CachePathCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        Completers.Results(Completion.CachePaths(Completers.Client(fakeBoundParameters), wordToComplete, Completers.Absolute(wordToComplete)));
}

internal static class Completers
{
    public static PCache.Client.PCacheClient Client(IDictionary fakeBoundParameters) =>
        Completion.QuickClient(fakeBoundParameters?["SocketPath"] as string);

    /// <summary>A relative word made absolute against the session's current file-system location.</summary>
    public static string? Absolute(string wordToComplete)
    {
        string? location = null;
        try
        {
            // The session's location, not the process's: a nested command in the completing runspace.
            using var ps = PowerShell.Create(RunspaceMode.CurrentRunspace);
            ps.AddCommand("Microsoft.PowerShell.Management\\Get-Location").AddParameter("PSProvider", "FileSystem");
            location = ps.Invoke<PathInfo>().FirstOrDefault()?.ProviderPath;
        }
        catch (Exception)
        {
            // No runspace to ask: match the word as typed.
        }
        return Completion.Absolute(wordToComplete, location, Environment.GetEnvironmentVariable("HOME"));
    }

    /// <summary>-CacheId as typed so far: a number, or the first of an array; anything else means all caches.</summary>
    public static int? CacheId(IDictionary fakeBoundParameters)
    {
        object? value = fakeBoundParameters?["CacheId"];
        if (value is PSObject ps) value = ps.BaseObject;
        if (value is IEnumerable list and not string) value = list.Cast<object?>().FirstOrDefault();
        return int.TryParse(Convert.ToString(value, CultureInfo.InvariantCulture), NumberStyles.None, CultureInfo.InvariantCulture, out int id) ? id : null;
    }

    public static IEnumerable<CompletionResult> Results(IEnumerable<CompletionCandidate> candidates) =>
        candidates.Select(c => new CompletionResult(c.CompletionText, c.ListItemText, CompletionResultType.ParameterValue, c.ToolTip)).ToList();
}

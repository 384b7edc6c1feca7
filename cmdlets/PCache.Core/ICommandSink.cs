namespace PCache.Core;

/// <summary>
/// Everything an operation may do to its caller: the PowerShell streams, ShouldProcess and Ctrl+C.
/// The cmdlets pass an adapter over PSCmdlet (the only code that touches PowerShell); tests pass
/// a recorder. Every call happens on the thread that runs the operation.
/// </summary>
public interface ICommandSink
{
    /// <summary>Cancelled when the user presses Ctrl+C (StopProcessing).</summary>
    CancellationToken Stopping { get; }

    /// <summary>-WhatIf/-Confirm: false means skip this target and go on with the next.</summary>
    bool ShouldProcess(string target, string action);

    /// <summary>
    /// A second, explicit question before something that loses data even though -Force was given;
    /// false means skip this target. Never asked when the user gave -Confirm:$false.
    /// </summary>
    bool ShouldContinue(string query, string caption);

    void WriteObject(object item);

    /// <summary>A non-terminating error: this input failed, the next one is tried.</summary>
    void WriteError(PCacheError error);

    void WriteVerbose(string text);

    void WriteWarning(string text);

    void WriteProgress(ProgressReport progress);
}

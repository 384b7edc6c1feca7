using System.Management.Automation;
using PCache.Core;

namespace PCache.Commands;

/// <summary>The core's view of a running cmdlet: each call maps to one PowerShell stream or prompt.</summary>
internal sealed class CmdletSink(PSCmdlet cmdlet, CancellationToken stopping) : ICommandSink
{
    public bool ShouldContinue(string query, string caption)
    {
        // -Confirm:$false is the script's way of saying "no prompts": it answers this question too.
        if (cmdlet.MyInvocation.BoundParameters.TryGetValue("Confirm", out var confirm) &&
            confirm is SwitchParameter { IsPresent: false })
            return true;
        return cmdlet.ShouldContinue(query, caption);
    }

    public CancellationToken Stopping => stopping;

    public bool ShouldProcess(string target, string action) => cmdlet.ShouldProcess(target, action);

    public void WriteObject(object item) => cmdlet.WriteObject(item);

    public void WriteError(PCacheError error) => cmdlet.WriteError(ToRecord(error));

    public void WriteVerbose(string text) => cmdlet.WriteVerbose(text);

    public void WriteWarning(string text) => cmdlet.WriteWarning(text);

    public void WriteProgress(ProgressReport progress) =>
        cmdlet.WriteProgress(new ProgressRecord(progress.ActivityId, progress.Activity, progress.Status)
        {
            PercentComplete = progress.PercentComplete,
            RecordType = progress.Completed ? ProgressRecordType.Completed : ProgressRecordType.Processing,
        });

    /// <summary>The error as PowerShell shows it: our message and next step in ErrorDetails, the target object kept.</summary>
    public static ErrorRecord ToRecord(PCacheError error)
    {
        var category = Enum.TryParse<ErrorCategory>(error.Category, out var c) ? c : ErrorCategory.NotSpecified;
        return new ErrorRecord(error.Exception, error.ErrorId, category, error.Target)
        {
            ErrorDetails = new ErrorDetails(error.Message) { RecommendedAction = error.RecommendedAction },
        };
    }
}

using System.Management.Automation;
using PCache.Core;

namespace PCache.Commands;

[Cmdlet(VerbsCommon.Set, "PCacheBacking", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(Backing))]
public sealed class SetPCacheBackingCommand : PCacheCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinId, Limits.MaxId)]
    [ArgumentCompleter(typeof(BackingIdCompleter))]
    public int[] BackingId { get; set; } = [];

    // The settings are not bound from the pipeline, so a piped backing never sets its own values back.
    [Parameter]
    [ValidateRange(Limits.MinGcPercent, Limits.MaxGcPercent)]
    public int? GcPercent { get; set; }

    [Parameter]
    [ValidateSet("writeback", "writethrough", "writearound", "writeonly", "passthrough")]
    public string? Mode { get; set; }

    [Parameter]
    [ValidateRange(Limits.MinSequentialCutoff, Limits.MaxSequentialCutoff)]
    public long? SequentialCutoff { get; set; }

    [Parameter]
    [ValidateRange(Limits.MinReadAdmission, Limits.MaxReadAdmission)]
    public int? ReadAdmission { get; set; }

    /// <summary>After a switch away from write-back, wait (with progress) until no dirty data is left.</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void BeginProcessing()
    {
        if (GcPercent is null && Mode is null && SequentialCutoff is null && ReadAdmission is null)
            ThrowTerminatingError(new ErrorRecord(
                new PSArgumentException("Give at least one setting to change: -GcPercent, -Mode, -SequentialCutoff or -ReadAdmission."),
                "PCacheNoSettingGiven", ErrorCategory.InvalidArgument, null));
        base.BeginProcessing();
    }

    protected override void ProcessRecord() =>
        Run((client, sink) =>
        {
            var request = new SetBackingRequest(GcPercent, Mode, SequentialCutoff, ReadAdmission);
            foreach (int id in BackingId) BackingOperations.Set(client, sink, id, request, Wait, PassThru);
        });
}

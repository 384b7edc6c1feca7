using System.Management.Automation;
using PCache.Core;

namespace PCache.Commands;

/// <summary>Settings are not bound from the pipeline, so a piped backing never sets its own values back.</summary>
[Cmdlet(VerbsCommon.Set, "PCacheBacking", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(Backing))]
public sealed class SetPCacheBackingCommand : PCacheCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinId, Limits.MaxId)]
    [ArgumentCompleter(typeof(BackingIdCompleter))]
    public int[] BackingId { get; set; } = [];

    [Parameter]
    [ValidateRange(Limits.MinGcPercent, Limits.MaxGcPercent)]
    public int? GcPercent { get; set; }

    [Parameter]
    [ValidateRange(Limits.MinWritebackWatermark, Limits.MaxWritebackWatermark)]
    public int? WritebackWatermark { get; set; }

    [Parameter]
    [ValidateRange(Limits.MinWritebackMaxAge, Limits.MaxWritebackMaxAge)]
    public int? WritebackMaxAge { get; set; }

    [Parameter]
    [ValidateRange(Limits.MinWritebackRate, Limits.MaxWritebackRate)]
    public long? WritebackRate { get; set; }

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

    /// <summary>Refused before the daemon is asked: a call without any setting is a mistake, not a no-op.</summary>
    protected override void BeginProcessing()
    {
        if (Settings.IsEmpty)
            ThrowTerminatingError(CmdletSink.ToRecord(ErrorTranslator.Module(ErrorTranslator.NoSettingGivenId,
                "Set-PCacheBacking needs a setting to change: -GcPercent, -Mode, -SequentialCutoff, -ReadAdmission, -WritebackWatermark, -WritebackMaxAge or -WritebackRate.", null)));
        base.BeginProcessing();
    }

    private BackingSettings Settings => new(GcPercent, WritebackWatermark, WritebackMaxAge, WritebackRate, Mode, SequentialCutoff, ReadAdmission);

    protected override void ProcessRecord() =>
        Run((client, sink) =>
        {
            foreach (int id in BackingId) BackingOperations.Set(client, sink, id, Settings, Wait, PassThru);
        });
}

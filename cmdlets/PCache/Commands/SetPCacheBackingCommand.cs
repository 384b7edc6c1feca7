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
    public SwitchParameter PassThru { get; set; }

    /// <summary>Refused before the daemon is asked: a call without any setting is a mistake, not a no-op.</summary>
    protected override void BeginProcessing()
    {
        if (Settings.IsEmpty)
            ThrowTerminatingError(CmdletSink.ToRecord(ErrorTranslator.Module(ErrorTranslator.NoSettingGivenId,
                "Set-PCacheBacking needs a setting to change: -GcPercent, -WritebackWatermark, -WritebackMaxAge or -WritebackRate.", null)));
        base.BeginProcessing();
    }

    private BackingSettings Settings => new(GcPercent, WritebackWatermark, WritebackMaxAge, WritebackRate);

    protected override void ProcessRecord() =>
        Run((client, sink) =>
        {
            foreach (int id in BackingId) BackingOperations.Set(client, sink, id, Settings, PassThru);
        });
}

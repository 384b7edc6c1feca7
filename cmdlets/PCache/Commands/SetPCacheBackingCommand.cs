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

    /// <summary>Not bound from the pipeline, so a piped backing never sets its own value back.</summary>
    [Parameter(Mandatory = true)]
    [ValidateRange(Limits.MinGcPercent, Limits.MaxGcPercent)]
    public int GcPercent { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() =>
        Run((client, sink) =>
        {
            foreach (int id in BackingId) BackingOperations.Set(client, sink, id, GcPercent, PassThru);
        });
}

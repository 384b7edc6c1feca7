using System.Management.Automation;
using PCache.Core;

namespace PCache.Commands;

[Cmdlet(VerbsCommon.Remove, "PCacheBacking", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(RemovedBacking))]
public sealed class RemovePCacheBackingCommand : PCacheCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinId, Limits.MaxId)]
    [ArgumentCompleter(typeof(BackingIdCompleter))]
    public int[] BackingId { get; set; } = [];

    /// <summary>
    /// Remove even while NBD clients are connected (they are cut off after the write-back), or forget
    /// a backing that cannot be attached, discarding its dirty data (asked again unless -Confirm:$false).
    /// </summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() =>
        Run((client, sink) =>
        {
            foreach (int id in BackingId) RemoveBacking.Run(client, sink, id, Force, PassThru);
        });
}

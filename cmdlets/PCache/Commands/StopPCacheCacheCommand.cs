using System.Management.Automation;
using PCache.Core;

namespace PCache.Commands;

/// <summary>
/// ConfirmImpact High: stopping withdraws every NBD export of the cache at once, and with -Force
/// leaves dirty data only in the cache device.
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "PCacheCache", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(StoppedCache))]
public sealed class StopPCacheCacheCommand : PCacheCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinId, Limits.MaxId)]
    [ArgumentCompleter(typeof(CacheIdCompleter))]
    public int[] CacheId { get; set; } = [];

    /// <summary>Stop even though backings hold dirty data (it stays in the cache device).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() =>
        Run((client, sink) =>
        {
            foreach (int id in CacheId) CacheOperations.Stop(client, sink, id, Force, PassThru);
        });
}

using System.Management.Automation;
using PCache.Core;

namespace PCache.Commands;

/// <summary>
/// ConfirmImpact High: stopping withdraws every NBD export of the cache at once, and with -Force
/// leaves dirty data only in the cache device. From the pipeline it takes caches only
/// (-InputObject): a piped backing carries a CacheId too, and must never stop its whole cache.
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "PCacheCache", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = IdSet)]
[OutputType(typeof(StoppedCache))]
public sealed class StopPCacheCacheCommand : PCacheCmdlet
{
    private const string IdSet = "CacheId";
    private const string InputSet = "InputObject";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = IdSet)]
    [ValidateRange(Limits.MinId, Limits.MaxId)]
    [ArgumentCompleter(typeof(CacheIdCompleter))]
    public int[] CacheId { get; set; } = [];

    /// <summary>Caches from Get-PCacheCache or Start-PCacheCache.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputSet)]
    public Cache[] InputObject { get; set; } = [];

    /// <summary>Stop even though backings hold dirty data (it stays in the cache device).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == InputSet)
        {
            // Each cache is stopped on the daemon that reported it.
            foreach (var cache in InputObject)
                RunOn(cache.SocketPath, (client, sink) => CacheOperations.Stop(client, sink, cache.CacheId, Force, PassThru));
            return;
        }
        Run((client, sink) =>
        {
            foreach (int id in CacheId) CacheOperations.Stop(client, sink, id, Force, PassThru);
        });
    }
}

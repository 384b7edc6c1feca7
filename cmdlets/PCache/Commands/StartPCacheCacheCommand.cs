using System.Management.Automation;
using PCache.Core;

namespace PCache.Commands;

[Cmdlet(VerbsLifecycle.Start, "PCacheCache", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(Cache))]
public sealed class StartPCacheCacheCommand : PCacheCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    [Parameter]
    [ValidateRange(Limits.MinCacheDeviceSize, Limits.MaxSize)]
    public long? Size { get; set; }

    [Parameter]
    [ValidateRange(Limits.MinSegmentSize, Limits.MaxSegmentSize)]
    public long? SegmentSize { get; set; }

    [Parameter]
    public SwitchParameter DataCrc { get; set; }

    protected override void ProcessRecord() =>
        Run((client, sink) => CacheOperations.Start(client, sink, new CacheStartRequest(ResolvePath(Path), Size, SegmentSize, DataCrc)));
}

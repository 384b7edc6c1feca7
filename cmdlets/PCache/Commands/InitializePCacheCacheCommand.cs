using System.Management.Automation;
using PCache.Core;

namespace PCache.Commands;

/// <summary>Formatting destroys what the device holds, hence ConfirmImpact High.</summary>
[Cmdlet(VerbsData.Initialize, "PCacheCache", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(Cache))]
public sealed class InitializePCacheCacheCommand : PCacheCmdlet
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

    /// <summary>Format even a device that holds a cache, a filesystem or other data.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord() =>
        Run((client, sink) => CacheOperations.Initialize(client, sink, new CacheStartRequest(ResolvePath(Path), Size, SegmentSize, DataCrc), Force));
}

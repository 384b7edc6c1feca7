using System.Management.Automation;
using PCache.Core;

namespace PCache.Commands;

/// <summary>
/// -Path is deliberately not bound from the pipeline: a piped PCache.Cache carries the cache
/// device's Path, which would otherwise filter its backings away.
/// </summary>
[Cmdlet(VerbsCommon.Get, "PCacheBacking")]
[OutputType(typeof(Backing))]
public sealed class GetPCacheBackingCommand : PCacheCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinId, Limits.MaxId)]
    [ArgumentCompleter(typeof(BackingIdCompleter))]
    public int[]? BackingId { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinId, Limits.MaxId)]
    [ArgumentCompleter(typeof(CacheIdCompleter))]
    public int[]? CacheId { get; set; }

    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(BackingPathCompleter))]
    public string[]? Path { get; set; }

    protected override void ProcessRecord() =>
        Run((client, sink) => BackingOperations.Get(client, sink, BackingId, CacheId, Path));
}

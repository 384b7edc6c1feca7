using System.Management.Automation;
using PCache.Core;

namespace PCache.Commands;

[Cmdlet(VerbsCommon.Get, "PCacheCache")]
[OutputType(typeof(Cache))]
public sealed class GetPCacheCacheCommand : PCacheCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinId, Limits.MaxId)]
    [ArgumentCompleter(typeof(CacheIdCompleter))]
    public int[]? CacheId { get; set; }

    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(CachePathCompleter))]
    public string[]? Path { get; set; }

    protected override void ProcessRecord() =>
        Run((client, sink) => CacheOperations.Get(client, sink, CacheId, Path));
}

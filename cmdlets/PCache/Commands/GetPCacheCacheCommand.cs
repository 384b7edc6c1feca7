using System.Management.Automation;
using PCache.Core;

namespace PCache.Commands;

[Cmdlet(VerbsCommon.Get, "PCacheCache", DefaultParameterSetName = "Path")]
[OutputType(typeof(Cache))]
public sealed class GetPCacheCacheCommand : PCacheCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinId, Limits.MaxId)]
    [ArgumentCompleter(typeof(CacheIdCompleter))]
    public int[]? CacheId { get; set; }

    /// <summary>Paths with wildcards, relative to the current location; ~ is the home directory.</summary>
    [Parameter(ParameterSetName = "Path")]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(CachePathCompleter))]
    public string[]? Path { get; set; }

    /// <summary>Paths taken as typed: [, ], * and ? are ordinary characters.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "LiteralPath")]
    [Alias("LP")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(CachePathCompleter))]
    public string[]? LiteralPath { get; set; }

    protected override void ProcessRecord()
    {
        var paths = ResolvePathFilters(Path, LiteralPath);
        Run((client, sink) => CacheOperations.Get(client, sink, CacheId, paths));
    }
}

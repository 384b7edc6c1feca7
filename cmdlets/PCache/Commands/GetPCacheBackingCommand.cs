using System.Management.Automation;
using PCache.Core;

namespace PCache.Commands;

/// <summary>
/// -Path is deliberately not bound from the pipeline: a piped PCache.Cache carries the cache
/// device's Path, which would otherwise filter its backings away.
/// </summary>
[Cmdlet(VerbsCommon.Get, "PCacheBacking", DefaultParameterSetName = "Path")]
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

    /// <summary>Paths with wildcards, relative to the current location; ~ is the home directory.</summary>
    [Parameter(ParameterSetName = "Path")]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(BackingPathCompleter))]
    public string[]? Path { get; set; }

    /// <summary>Paths taken as typed: [, ], * and ? are ordinary characters.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "LiteralPath")]
    [Alias("LP")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(BackingPathCompleter))]
    public string[]? LiteralPath { get; set; }

    protected override void ProcessRecord()
    {
        var paths = ResolvePathFilters(Path, LiteralPath);
        Run((client, sink) => BackingOperations.Get(client, sink, BackingId, CacheId, paths));
    }
}

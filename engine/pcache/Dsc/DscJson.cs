using System.Text.Json;
using System.Text.Json.Serialization;

namespace PCache.Daemon.Dsc;

/// <summary>
/// What every PCache DSC instance carries: the path that names it, the daemon's socket, DSC's own
/// _exist and _inDesiredState, and the unknown properties. Read-only properties sent back in are
/// accepted and ignored.
/// </summary>
internal abstract class DscInstance
{
    [JsonPropertyOrder(-1)]
    public string? Path { get; set; }

    public string? Socket { get; set; }

    [JsonPropertyName("_exist")]
    [JsonPropertyOrder(1)]
    public bool? Exist { get; set; }

    [JsonPropertyName("_inDesiredState")]
    [JsonPropertyOrder(1)]
    public bool? InDesiredState { get; set; }

    /// <summary>Unknown properties: DSC's own (_name, _securityContext...) are ignored, any other is refused.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }
}

/// <summary>
/// A PCache/Cache instance (packaging/dsc/pcache.cache.dsc.resource.json): what DSC sends on stdin
/// and what `pcache dsc cache` prints.
/// </summary>
internal sealed class CacheInstance : DscInstance
{
    public long? Size { get; set; }
    public long? SegmentSize { get; set; }
    public bool? DataCrc { get; set; }
    public bool? AllowDirtyStop { get; set; }
    public int? CacheId { get; set; }
    public long? FreeBytes { get; set; }
    public string? PersistMode { get; set; }
    public int? BackingCount { get; set; }
}

/// <summary>A PCache/Backing instance (packaging/dsc/pcache.backing.dsc.resource.json).</summary>
internal sealed class BackingInstance : DscInstance
{
    public int? CacheId { get; set; }
    public long? CacheSize { get; set; }
    public int? GcPercent { get; set; }
    public int? Queues { get; set; }
    public bool? PersistOnWrite { get; set; }
    public int? BackingId { get; set; }
    public string? State { get; set; }
    public string? Uri { get; set; }
    public long? DirtyBytes { get; set; }
}

/// <summary>Source-generated (AOT) JSON for DSC instances: camelCase, compact, nulls left out.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict,
    MaxDepth = 16)]
[JsonSerializable(typeof(CacheInstance))]
[JsonSerializable(typeof(BackingInstance))]
[JsonSerializable(typeof(List<string>))]
internal sealed partial class DscJson : JsonSerializerContext
{
}

using System.Text.Json.Serialization;

namespace PCache.Client;

/// <summary>
/// Source-generated JSON metadata for every protocol type (no reflection: the daemon is native AOT).
/// Names are snake_case on the wire, as in pcache-utils' JSON.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.Strict,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow,
    MaxDepth = 16)]
[JsonSerializable(typeof(RequestEnvelope))]
[JsonSerializable(typeof(ResponseEnvelope))]
[JsonSerializable(typeof(ControlError))]
[JsonSerializable(typeof(NoArgs))]
[JsonSerializable(typeof(CacheStartArgs))]
[JsonSerializable(typeof(CacheStopArgs))]
[JsonSerializable(typeof(BackingStartArgs))]
[JsonSerializable(typeof(BackingStopArgs))]
[JsonSerializable(typeof(BackingListArgs))]
[JsonSerializable(typeof(BackingSetArgs))]
[JsonSerializable(typeof(StatArgs))]
[JsonSerializable(typeof(CacheEntry))]
[JsonSerializable(typeof(List<CacheEntry>))]
[JsonSerializable(typeof(CacheStartResult))]
[JsonSerializable(typeof(CacheStopResult))]
[JsonSerializable(typeof(BackingEntry))]
[JsonSerializable(typeof(List<BackingEntry>))]
[JsonSerializable(typeof(BackingStopResult))]
[JsonSerializable(typeof(DrainProgress))]
[JsonSerializable(typeof(DaemonStatus))]
[JsonSerializable(typeof(BackingStatistics))]
[JsonSerializable(typeof(StatResult))]
public sealed partial class ControlJsonContext : JsonSerializerContext
{
}

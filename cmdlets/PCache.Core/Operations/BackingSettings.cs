using PCache.Client;

namespace PCache.Core;

/// <summary>What Set-PCacheBacking changes on a running backing; null settings were not given and stay as they are.</summary>
public sealed record BackingSettings(int? GcPercent = null, int? WritebackWatermark = null, int? WritebackMaxAge = null, long? WritebackRate = null)
{
    public bool IsEmpty => GcPercent is null && WritebackWatermark is null && WritebackMaxAge is null && WritebackRate is null;

    /// <summary>"Name from old to new" for each given setting the backing does not have yet.</summary>
    public IReadOnlyList<string> ChangesFrom(BackingEntry b)
    {
        var changes = new List<string>();
        if (GcPercent is { } gc && gc != b.CacheGcPercent) changes.Add($"GcPercent from {b.CacheGcPercent} to {gc}");
        if (WritebackWatermark is { } wm && wm != b.WritebackWatermark) changes.Add($"WritebackWatermark from {b.WritebackWatermark} to {wm}");
        if (WritebackMaxAge is { } age && age != b.WritebackMaxAge) changes.Add($"WritebackMaxAge from {b.WritebackMaxAge} to {age}");
        if (WritebackRate is { } rate && rate != b.WritebackRate) changes.Add($"WritebackRate from {b.WritebackRate} to {rate}");
        return changes;
    }

    public string Given()
    {
        var given = new List<string>();
        if (GcPercent is { } gc) given.Add($"GcPercent {gc}");
        if (WritebackWatermark is { } wm) given.Add($"WritebackWatermark {wm}");
        if (WritebackMaxAge is { } age) given.Add($"WritebackMaxAge {age}");
        if (WritebackRate is { } rate) given.Add($"WritebackRate {rate}");
        return string.Join(", ", given);
    }
}

using PCache.Client;

namespace PCache.Core;

/// <summary>What Add-PCacheBacking asks for. Null settings were not given and are not compared.</summary>
public sealed record AddBackingRequest(string Path, long CacheSize, int CacheId = 0, int? GcPercent = null, int? Queues = null, bool? PersistOnWrite = null,
    int? WritebackWatermark = null, int? WritebackMaxAge = null, long? WritebackRate = null,
    string? Mode = null, long? SequentialCutoff = null, int? ReadAdmission = null);

public enum AddBackingDecision
{
    /// <summary>Not attached: ask the daemon to start it.</summary>
    Start,

    /// <summary>Already attached and running with the settings asked for: return it, change nothing.</summary>
    Existing,

    /// <summary>Attached, but elsewhere or otherwise: an error that says what differs.</summary>
    Conflict,
}

/// <summary>
/// Add-PCacheBacking's idempotency, decided from the daemon's backing list. Re-running a
/// provisioning script must be harmless, so an attached backing with the same settings is the
/// answer; one whose settings differ is a clear error, never a silent change. Settings left out
/// are not compared, so a later Set-PCacheBacking does not break the script.
/// </summary>
public sealed record AddBackingPlan(AddBackingDecision Decision, BackingEntry? Existing, IReadOnlyList<string> Differences)
{
    public static AddBackingPlan For(AddBackingRequest request, IEnumerable<BackingEntry> backings)
    {
        var existing = backings.FirstOrDefault(b => b.BackingPath == request.Path);
        if (existing is null) return new(AddBackingDecision.Start, null, []);
        var differences = new List<string>();
        if (existing.CacheId != request.CacheId)
            differences.Add($"it is on cache {existing.CacheId}, not cache {request.CacheId}");
        // A backing that is not running (refused, unavailable...) is the daemon's to re-attach.
        else if (existing.State != BackingStates.Running)
            return existing.State == BackingStates.Draining
                ? new(AddBackingDecision.Conflict, existing, [$"it is being removed (state {existing.State})"])
                : new(AddBackingDecision.Start, existing, []);

        if (!SameCacheSize(existing, request.CacheSize))
            differences.Add($"CacheSize is {ByteSize.Format(existing.CacheSize)}, not {ByteSize.Format(request.CacheSize)}");
        if (request.GcPercent is { } gc && gc != existing.CacheGcPercent)
            differences.Add($"GcPercent is {existing.CacheGcPercent}, not {gc}");
        if (request.Queues is { } q && q != existing.Queues)
            differences.Add($"Queues is {existing.Queues}, not {q}");
        if (request.PersistOnWrite is { } pow && pow != existing.PersistOnWrite)
            differences.Add($"PersistOnWrite is {existing.PersistOnWrite}, not {pow}");
        if (request.WritebackWatermark is { } wm && wm != existing.WritebackWatermark)
            differences.Add($"WritebackWatermark is {existing.WritebackWatermark}, not {wm}");
        if (request.WritebackMaxAge is { } age && age != existing.WritebackMaxAge)
            differences.Add($"WritebackMaxAge is {existing.WritebackMaxAge}, not {age}");
        if (request.WritebackRate is { } rate && rate != existing.WritebackRate)
            differences.Add($"WritebackRate is {existing.WritebackRate}, not {rate}");
        if (request.Mode is { } mode && !string.Equals(mode, existing.Mode, StringComparison.OrdinalIgnoreCase))
            differences.Add($"Mode is {existing.Mode}, not {mode}");
        if (request.SequentialCutoff is { } cutoff && cutoff != existing.SequentialCutoff)
            differences.Add($"SequentialCutoff is {existing.SequentialCutoff}, not {cutoff}");
        if (request.ReadAdmission is { } admission && admission != existing.ReadAdmission)
            differences.Add($"ReadAdmission is {existing.ReadAdmission}, not {admission}");
        return new(differences.Count == 0 ? AddBackingDecision.Existing : AddBackingDecision.Conflict, existing, differences);
    }

    /// <summary>The daemon rounds the cache share up to whole segments; compare in segments.</summary>
    private static bool SameCacheSize(BackingEntry existing, long requested)
    {
        if (existing.CacheSegs <= 0 || existing.CacheSize <= 0) return existing.CacheSize == requested;
        long segment = existing.CacheSize / existing.CacheSegs;
        long segments = (requested + segment - 1) / segment;
        return segments == existing.CacheSegs;
    }
}

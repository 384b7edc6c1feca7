using PCache.Client;

namespace PCache.Core;

/// <summary>What Set-PCacheBacking changes on a running backing; null settings were not given and stay as they are.</summary>
public sealed record BackingSettings(
    int? GcPercent = null, int? WritebackWatermark = null, int? WritebackMaxAge = null, long? WritebackRate = null,
    string? Mode = null, long? SequentialCutoff = null, int? ReadAdmission = null)
{
    public bool IsEmpty => GcPercent is null && WritebackWatermark is null && WritebackMaxAge is null && WritebackRate is null
        && Mode is null && SequentialCutoff is null && ReadAdmission is null;

    /// <summary>"Name from old to new" for each given setting the backing does not have yet.</summary>
    public IReadOnlyList<string> ChangesFrom(BackingEntry b)
    {
        var changes = new List<string>();
        if (GcPercent is { } gc && gc != b.CacheGcPercent) changes.Add($"GcPercent from {b.CacheGcPercent} to {gc}");
        if (WritebackWatermark is { } wm && wm != b.WritebackWatermark) changes.Add($"WritebackWatermark from {b.WritebackWatermark} to {wm}");
        if (WritebackMaxAge is { } age && age != b.WritebackMaxAge) changes.Add($"WritebackMaxAge from {b.WritebackMaxAge} to {age}");
        if (WritebackRate is { } rate && rate != b.WritebackRate) changes.Add($"WritebackRate from {b.WritebackRate} to {rate}");
        if (ModeChange(b) is { } mode)
            changes.Add($"Mode from {b.Mode} to {mode}" + (LeavesWriteBack(b.Mode, mode)
                ? $" ({ByteSize.Format(b.DirtyBytes)} of dirty data is written back in the background)" : ""));
        if (SequentialCutoff is { } cutoff && cutoff != b.SequentialCutoff) changes.Add($"SequentialCutoff from {b.SequentialCutoff} to {cutoff}");
        if (ReadAdmission is { } admission && admission != b.ReadAdmission) changes.Add($"ReadAdmission from {b.ReadAdmission} to {admission}");
        return changes;
    }

    /// <summary>The mode to ask the daemon for, lower case, or null when none was given or the backing has it already.</summary>
    public string? ModeChange(BackingEntry b) =>
        Mode is { } mode && !string.Equals(mode, b.Mode, StringComparison.OrdinalIgnoreCase) ? mode.ToLowerInvariant() : null;

    /// <summary>The request that changes exactly what <see cref="ChangesFrom"/> lists.</summary>
    public BackingSetArgs ToArgs(BackingEntry b) => new()
    {
        BackingId = b.BackingId,
        GcPercent = GcPercent is { } gc && gc != b.CacheGcPercent ? gc : null,
        WritebackWatermark = WritebackWatermark is { } wm && wm != b.WritebackWatermark ? wm : null,
        WritebackMaxAge = WritebackMaxAge is { } age && age != b.WritebackMaxAge ? age : null,
        WritebackRate = WritebackRate is { } rate && rate != b.WritebackRate ? rate : null,
        Mode = ModeChange(b),
        SequentialCutoff = SequentialCutoff is { } cutoff && cutoff != b.SequentialCutoff ? cutoff : null,
        ReadAdmission = ReadAdmission is { } admission && admission != b.ReadAdmission ? admission : null,
    };

    /// <summary>Only writeback and writeonly keep dirty data; a switch to any other mode drains it.</summary>
    public static bool KeepsDirtyData(string? mode) => mode is "writeback" or "writeonly";

    private static bool LeavesWriteBack(string? from, string to) => KeepsDirtyData(from) && !KeepsDirtyData(to);

    public string Given()
    {
        var given = new List<string>();
        if (GcPercent is { } gc) given.Add($"GcPercent {gc}");
        if (WritebackWatermark is { } wm) given.Add($"WritebackWatermark {wm}");
        if (WritebackMaxAge is { } age) given.Add($"WritebackMaxAge {age}");
        if (WritebackRate is { } rate) given.Add($"WritebackRate {rate}");
        if (Mode is { } mode) given.Add($"Mode {mode}");
        if (SequentialCutoff is { } cutoff) given.Add($"SequentialCutoff {cutoff}");
        if (ReadAdmission is { } admission) given.Add($"ReadAdmission {admission}");
        return string.Join(", ", given);
    }
}

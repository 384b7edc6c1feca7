using PCache.Client;
using PCache.Daemon.Control;
using PCache.Engine.Cache;
using PCache.Engine.Layout;

namespace PCache.Daemon.Glue;

/// <summary>Checks and applies a backing's cache mode and admission settings from a request.</summary>
internal static class BackingPolicy
{
    public static CacheMode? ParseMode(string? mode)
    {
        if (mode is null) return null;
        if (!CacheModes.TryParse(mode, out var parsed))
            throw ControlException.Invalid($"--mode must be one of {string.Join(", ", CacheModes.Names)}, not '{mode}'", "mode");
        return parsed;
    }

    public static void Check(long? sequentialCutoff, int? readAdmission)
    {
        if (sequentialCutoff is { } c && (c < 0 || c > BackingCache.MaxSequentialCutoff || c % Geometry.SectorSize != 0))
            throw ControlException.Invalid($"--sequential-cutoff must be 0 (off) .. {ByteSize.Format(BackingCache.MaxSequentialCutoff)}, a multiple of {Geometry.SectorSize} bytes, not {c}", "sequential_cutoff");
        if (readAdmission is { } a && (a < 0 || a > 15))
            throw ControlException.Invalid($"--read-admission must be 0 (off) .. 15, not {a}", "read_admission");
    }

    /// <summary>Apply what the request names; the mode is persisted in the backing's record.</summary>
    public static void Apply(ManagedBacking backing, BackingCache running, CacheMode? mode, long? sequentialCutoff, int? readAdmission)
    {
        if (mode is { } m && m != running.Mode)
        {
            var old = running.Mode;
            running.SetMode(m);
            backing.Info = running.Info;
            Log.Notice($"backing {backing.Id}: cache mode {old.Name()} -> {m.Name()}" +
                (running.Draining ? $"; writing back {ByteSize.Format(Math.Max(0, running.DirtyBytes))} of dirty data in the background" : ""));
        }
        if (sequentialCutoff is { } c)
        {
            backing.SequentialCutoff = c;
            running.SequentialCutoff = c;
            Log.Notice($"backing {backing.Id}: sequential_cutoff set to {(c == 0 ? "off" : ByteSize.Format(c))}");
        }
        if (readAdmission is { } a)
        {
            backing.ReadAdmission = a;
            running.ReadAdmission = a;
            Log.Notice($"backing {backing.Id}: read_admission set to {a}");
        }
    }
}

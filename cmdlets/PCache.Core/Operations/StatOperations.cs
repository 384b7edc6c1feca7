using System.Diagnostics;
using PCache.Client;

namespace PCache.Core;

/// <summary>Get-PCacheStat (one snapshot, or samples with rates until Ctrl+C) and Clear-PCacheStat.</summary>
public static class StatOperations
{
    public static void Get(PCacheClient client, ICommandSink sink, int? backingId)
    {
        if (!TryStat(client, sink, backingId, reset: false, out var stats)) return;
        foreach (var s in stats) sink.WriteObject(s);
    }

    /// <summary>Zero the counters; with passThru, the values they had just before.</summary>
    public static void Clear(PCacheClient client, ICommandSink sink, int? backingId, bool passThru)
    {
        string target = backingId is { } id ? $"backing {id}" : $"every backing of the daemon at {client.Socket.Path}";
        if (!sink.ShouldProcess(target, "Reset the statistics counters to zero")) return;
        if (!TryStat(client, sink, backingId, reset: true, out var stats)) return;
        if (passThru)
            foreach (var s in stats) sink.WriteObject(s);
    }

    /// <summary>
    /// One sample per backing per interval until <paramref name="maxSamples"/> intervals have been
    /// written or Ctrl+C. One request per interval covers every backing, so all rows of an
    /// interval share a moment. <paramref name="backingIds"/> empty means every backing, including
    /// ones added while it runs.
    /// </summary>
    public static void Watch(PCacheClient client, ICommandSink sink, IReadOnlyCollection<int> backingIds, int intervalSeconds, int? maxSamples)
    {
        var sampler = new StatSampler();
        var clock = Stopwatch.StartNew();
        if (!TryStat(client, sink, null, reset: false, out var first)) return;
        var wanted = backingIds.Distinct().ToList();
        foreach (int missing in wanted.Where(id => first.All(s => s.BackingId != id)))
            sink.WriteError(ErrorTranslator.Module(ErrorTranslator.BackingNotFoundId, $"No backing {missing} on the daemon at {client.Socket.Path}.", missing));
        if (wanted.Count > 0 && wanted.All(id => first.All(s => s.BackingId != id))) return;
        sampler.Next(Select(first, wanted), clock.Elapsed.TotalSeconds);
        var watching = Select(first, wanted).ToDictionary(s => s.BackingId, s => s.Path);

        for (int written = 0; maxSamples is null || written < maxSamples; written++)
        {
            Task.Delay(TimeSpan.FromSeconds(intervalSeconds), sink.Stopping).GetAwaiter().GetResult();
            if (!TryStat(client, sink, null, reset: false, out var now)) return;
            var current = Select(now, wanted).ToList();
            // A backing that went away is said so, once: monitoring must tell "removed" from "stuck".
            foreach (var (id, path) in watching.Where(w => current.All(s => s.BackingId != w.Key)).ToList())
            {
                sink.WriteError(ErrorTranslator.Module(ErrorTranslator.BackingGoneId,
                    $"Backing {id} ({path}) is no longer on the daemon at {client.Socket.Path} (it was removed or its cache stopped); it is no longer sampled.", id));
                watching.Remove(id);
            }
            foreach (var s in current) watching.TryAdd(s.BackingId, s.Path);
            foreach (var sample in sampler.Next(current, clock.Elapsed.TotalSeconds)) sink.WriteObject(sample);
            // Every backing named with -BackingId is gone: nothing is left to watch.
            if (wanted.Count > 0 && watching.Count == 0) return;
        }
    }

    private static IEnumerable<Stat> Select(IEnumerable<Stat> stats, List<int> wanted) =>
        wanted.Count == 0 ? stats : stats.Where(s => wanted.Contains(s.BackingId));

    private static bool TryStat(PCacheClient client, ICommandSink sink, int? backingId, bool reset, out List<Stat> stats)
    {
        stats = [];
        var args = new StatArgs { BackingId = backingId, Reset = reset };
        if (!ClientCall.TryRun(client, sink, backingId, c => client.StatAsync(args, c), out var result)) return false;
        var at = DateTimeOffset.UtcNow;
        stats = result.Backings.Select(b => Stat.From(b, at, client.Socket.Path)).ToList();
        return true;
    }
}

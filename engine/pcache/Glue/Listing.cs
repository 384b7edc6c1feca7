using PCache.Client;
using PCache.Daemon.Control;

namespace PCache.Daemon.Glue;

/// <summary>cache-list, backing-list and stat: views taken under the short gate, never the admin lease.</summary>
internal sealed class Listing(CacheTable table, NbdExports exports, TimeSpan stuckAfter)
{
    public List<CacheEntry> Caches() => table.Read(caches => caches.Select(Views.Cache).ToList());

    public List<BackingEntry> Backings(int? cacheId) => table.Read(caches =>
    {
        if (cacheId is { } id && !caches.Any(c => c.Id == id)) throw ControlException.NotFound($"no cache {id} is started", $"cache {id}");
        return caches.Where(c => cacheId is null || c.Id == cacheId)
            .SelectMany(c => c.Backings.Values).Select(b => Views.Backing(b, exports)).ToList();
    });

    public List<BackingStatistics> Statistics(int? backingId, bool reset) => table.Read(caches =>
    {
        var selected = backingId is { } id ? [table.FindBacking(id)] : caches.SelectMany(c => c.Backings.Values).ToList();
        var stats = selected.Select(b => Views.Statistics(b, stuckAfter)).ToList();
        if (reset)
            foreach (var b in selected) b.Running?.Stats.Reset();
        return stats;
    });
}

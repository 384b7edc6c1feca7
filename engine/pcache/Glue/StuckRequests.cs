namespace PCache.Daemon.Glue;

/// <summary>The daemon's periodic look for requests stuck inside the engine (a slow or hung backing device).</summary>
internal sealed class StuckRequests(CacheTable table, TimeSpan stuckAfter)
{
    /// <summary>Log each request that became stuck since the last look, once (with the backing's count and oldest age).</summary>
    public void Report()
    {
        var running = table.Read(caches => caches.SelectMany(c => c.Backings.Values).Where(b => b.Running is not null).ToList());
        foreach (var b in running)
        {
            if (b.Running is not { } cache) continue;
            var census = cache.Requests(stuckAfter, report: true);
            if (census.NewlyStuck > 0)
                Log.Warning($"backing {b.Id} ({b.Path}): {census.Stuck} request(s) waiting longer than {stuckAfter.TotalSeconds:0} s, the oldest for {census.OldestSeconds:0.0} s " +
                    $"(a slow or hung backing device; see 'pcache stat --backing-id {b.Id}')");
        }
    }
}

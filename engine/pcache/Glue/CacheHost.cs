using PCache.Client;

namespace PCache.Daemon.Glue;

/// <summary>
/// What the control protocol and the daemon ask of the started caches, one verb per class:
/// <see cref="CacheStart"/>, <see cref="CacheStop"/>, <see cref="BackingStart"/> (with
/// <see cref="BackingReattach"/>), <see cref="BackingStop"/>, <see cref="BackingSet"/>,
/// <see cref="Listing"/> and <see cref="StuckRequests"/>. They share the <see cref="CacheTable"/>.
/// </summary>
internal sealed class CacheHost
{
    private readonly CacheTable _table = new();
    private readonly CacheStart _cacheStart;
    private readonly CacheStop _cacheStop;
    private readonly BackingStart _backingStart;
    private readonly BackingStop _backingStop;
    private readonly BackingSet _backingSet;
    private readonly Listing _listing;
    private readonly StuckRequests _stuck;

    public CacheHost(NbdExports exports, TimeSpan stuckAfter)
    {
        Exports = exports;
        StuckAfter = stuckAfter;
        var reattach = new BackingReattach(_table, exports);
        _cacheStart = new CacheStart(_table, exports, reattach);
        _cacheStop = new CacheStop(_table, exports);
        _backingStart = new BackingStart(_table, exports, reattach);
        _backingStop = new BackingStop(_table, exports);
        _backingSet = new BackingSet(_table, exports);
        _listing = new Listing(_table, exports, stuckAfter);
        _stuck = new StuckRequests(_table, stuckAfter);
    }

    public NbdExports Exports { get; }

    /// <summary>A request inside the engine longer than this is stuck: counted in stat, logged once.</summary>
    public TimeSpan StuckAfter { get; }

    public int CacheCount => _table.CacheCount;

    public int BackingCount => _table.BackingCount;

    public Task<CacheStartResult> StartCacheAsync(CacheStartArgs args, CancellationToken cancel) => _cacheStart.RunAsync(args, cancel);

    public Task<CacheStopResult> StopCacheAsync(int cacheId, CancellationToken cancel) => _cacheStop.RunAsync(cacheId, cancel);

    public Task<BackingEntry> StartBackingAsync(BackingStartArgs args, CancellationToken cancel) => _backingStart.RunAsync(args, cancel);

    public Task<BackingStopResult> StopBackingAsync(BackingStopArgs args, ProgressSink progress, CancellationToken cancel) =>
        _backingStop.RunAsync(args, progress, cancel);

    public Task<BackingEntry> SetBackingAsync(BackingSetArgs args, CancellationToken cancel) => _backingSet.RunAsync(args, cancel);

    public List<CacheEntry> ListCaches() => _listing.Caches();

    public List<BackingEntry> ListBackings(int? cacheId) => _listing.Backings(cacheId);

    public List<BackingStatistics> Statistics(int? backingId, bool reset) => _listing.Statistics(backingId, reset);

    public void ReportStuckRequests() => _stuck.Report();

    /// <summary>
    /// Daemon exit: new operations are refused, drains (already cancelled by the caller's token)
    /// unwind, then every backing stops gracefully — ksets persisted, dirty data kept in pmem.
    /// </summary>
    public async Task StopAllAsync()
    {
        _table.BeginShutdown();
        try { await Task.WhenAll(_backingStop.InFlight()).ConfigureAwait(false); } catch (Exception) { /* reported to their clients */ }
        await _cacheStop.StopAllAsync().ConfigureAwait(false);
    }
}

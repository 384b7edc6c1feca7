using PCache.Engine.Cache;

namespace PCache.Engine.Background;

/// <summary>
/// Closes ksets that have waited a second, and closes all of them at once when a writer is short
/// of space, so write-back can see (and GC can then reclaim) everything written so far. It is the
/// only background worker that takes kset locks, so GC and write-back never wait behind a writer.
/// </summary>
internal sealed class KsetFlusher : Worker
{
    public const int MaxKsetAgeMs = 1000;
    private readonly BackingCache _cache;
    private volatile bool _spaceNeeded;

    public KsetFlusher(BackingCache cache) : base($"pcache{cache.Id}-kset") => _cache = cache;

    public void SpaceNeeded()
    {
        _spaceNeeded = true;
        Wake();
    }

    protected override int Step()
    {
        // Refill the log's spare segment ahead of the next switch (never waiting: this thread is
        // also what closes ksets when writers are short of space).
        _cache.Log.EnsureRoom(wait: false);
        if (_spaceNeeded)
        {
            _spaceNeeded = false;
            _cache.Stats.Increment(Counter.WriterWaits);
            _cache.Log.CloseAll();
            _cache.WakeWriteback();
            _cache.WakeGc();
            return 20;
        }
        // Batched media: ksets closed for age become durable now too, not at the next FLUSH.
        if (_cache.Log.CloseOlderThan(MaxKsetAgeMs) > 0) _cache.Pmem.Commit(_cache.Log.ClosedTicket);
        return 100;
    }
}

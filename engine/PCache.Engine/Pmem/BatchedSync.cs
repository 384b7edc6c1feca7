namespace PCache.Engine.Pmem;

/// <summary>
/// Persistence of a non-DAX mapping in batches, as a log-structured SSD cache does it: a store only
/// records its pages as dirty and takes a ticket; <see cref="Commit"/> syncs every range dirtied up
/// to a ticket. Commits coalesce: a commit whose ticket an earlier sync already covered returns at
/// once, and commits that arrive while a sync runs wait for it and then share one sync for all of
/// them (group commit), so a kset close or a FLUSH costs one sync however many writers it covers.
/// A failed sync is final: the device may have dropped pages, so every later commit fails too.
/// </summary>
internal sealed class BatchedSync
{
    private const int Capacity = 64;
    private readonly object _lock = new();
    private readonly DirtyRanges _dirty = new(Capacity);
    private readonly DirtyRanges _syncing = new(Capacity);
    private readonly SyncRange _sync;
    private readonly string _device;
    private long _ticket;       // newest store's ticket
    private long _synced;       // every store up to this ticket is durable
    private bool _busy;         // a leader is syncing _syncing
    private string? _failure;
    private long _syncs;
    private long _syncedBytes;

    /// <summary>Make <paramref name="count"/> ranges of <paramref name="ranges"/> durable; throws on failure.</summary>
    public delegate void SyncRange(DirtyRanges ranges, int count);

    public BatchedSync(string device, SyncRange sync)
    {
        _device = device;
        _sync = sync;
    }

    public long Staged => Volatile.Read(ref _ticket);

    /// <summary>Sync calls issued (one per batch, whatever its number of ranges).</summary>
    public long Syncs => Interlocked.Read(ref _syncs);

    public long SyncedBytes => Interlocked.Read(ref _syncedBytes);

    /// <summary>Record a store that already reached the mapping (after the copy: a sync racing it must not miss it).</summary>
    public void Mark(long offset, long length)
    {
        if (length <= 0) return;
        lock (_lock)
        {
            _dirty.Add(offset, length);
            Volatile.Write(ref _ticket, _ticket + 1);
        }
    }

    /// <summary>Return once every store with a ticket up to <paramref name="upTo"/> is durable.</summary>
    public void Commit(long upTo)
    {
        if (Volatile.Read(ref _synced) >= upTo) return;
        int count;
        long batch;
        lock (_lock)
        {
            while (true)
            {
                if (_synced >= upTo) return;
                if (_failure is not null) throw new IOException(_failure);
                if (!_busy) break;
                Monitor.Wait(_lock);
            }
            // Lead: take everything dirty now, which covers this commit and every one queued behind it.
            _busy = true;
            batch = _ticket;
            count = _dirty.TakeAll(_syncing);
        }
        string? failure = null;
        try
        {
            if (count > 0)
            {
                long bytes = 0;
                for (int i = 0; i < count; i++) bytes += _syncing.Length(i);
                _sync(_syncing, count);
                Interlocked.Increment(ref _syncs);
                Interlocked.Add(ref _syncedBytes, bytes);
            }
        }
        catch (Exception e)
        {
            failure = $"{_device}: sync of the cache device failed, writes since the last sync may be lost: {e.Message}";
            throw new IOException(failure, e);
        }
        finally
        {
            lock (_lock)
            {
                _busy = false;
                if (failure is null) Volatile.Write(ref _synced, batch);
                else _failure = failure;
                Monitor.PulseAll(_lock);
            }
        }
    }
}

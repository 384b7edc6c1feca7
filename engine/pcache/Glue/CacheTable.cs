using PCache.Client;
using PCache.Daemon.Control;

namespace PCache.Daemon.Glue;

/// <summary>
/// Every cache device the daemon has started, with the two locks that guard them. Changes are
/// serialised by the admin lease; readers (lists, statistics) take the short gate, so a drain
/// that holds neither while it writes back leaves listing and other backings responsive.
/// </summary>
internal sealed class CacheTable
{
    private readonly object _gate = new();
    private readonly SemaphoreSlim _admin = new(1, 1);
    private readonly SortedDictionary<int, ManagedCache> _caches = [];
    private volatile bool _stopping;

    /// <summary>Set once at daemon exit: new operations are refused and nothing is published again.</summary>
    public bool Stopping => _stopping;

    public int CacheCount => Read(caches => caches.Count);

    public int BackingCount => Read(caches => caches.Sum(c => c.Backings.Count));

    public void BeginShutdown() => _stopping = true;

    /// <summary>The admin lease for a new operation; refused while the daemon shuts down.</summary>
    public async Task<AdminLease> EnterAsync(CancellationToken cancel)
    {
        if (_stopping) throw ShuttingDown();
        await _admin.WaitAsync(cancel).ConfigureAwait(false);
        if (_stopping)
        {
            _admin.Release();
            throw ShuttingDown();
        }
        return new AdminLease(_admin);
    }

    /// <summary>The admin lease for finishing what an operation began (even during shutdown).</summary>
    public async Task<AdminLease> EnterToFinishAsync()
    {
        await _admin.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        return new AdminLease(_admin);
    }

    /// <summary>Look at the caches under the gate; <paramref name="read"/> must not keep the collection.</summary>
    public T Read<T>(Func<IReadOnlyCollection<ManagedCache>, T> read)
    {
        lock (_gate) return read(_caches.Values);
    }

    public void Read(Action<IReadOnlyCollection<ManagedCache>> read)
    {
        lock (_gate) read(_caches.Values);
    }

    /// <summary>The lowest id no started cache holds.</summary>
    public int FreeId()
    {
        lock (_gate)
        {
            int id = 0;
            while (_caches.ContainsKey(id)) id++;
            return id;
        }
    }

    public void Add(ManagedCache cache)
    {
        lock (_gate) _caches[cache.Id] = cache;
    }

    public void Remove(int cacheId)
    {
        lock (_gate) _caches.Remove(cacheId);
    }

    public void Clear()
    {
        lock (_gate) _caches.Clear();
    }

    /// <summary>Record <paramref name="backing"/> in its cache's slot, replacing what was there.</summary>
    public void Put(ManagedBacking backing)
    {
        lock (_gate) backing.Cache.Backings[backing.Slot] = backing;
    }

    public void Forget(ManagedBacking backing)
    {
        lock (_gate) backing.Cache.Backings.Remove(backing.Slot);
    }

    public ManagedCache FindCache(int cacheId)
    {
        lock (_gate)
        {
            if (_caches.TryGetValue(cacheId, out var cache)) return cache;
            throw ControlException.NotFound(_caches.Count == 0
                ? $"no cache {cacheId} is started (no cache device is started: run 'pcache cache-start --path DEVICE' first)"
                : $"no cache {cacheId} is started (started: {string.Join(", ", _caches.Keys)})", $"cache {cacheId}");
        }
    }

    public ManagedBacking FindBacking(int backingId)
    {
        lock (_gate)
        {
            int cacheId = backingId / ControlProtocol.BackingsPerCache, slot = backingId % ControlProtocol.BackingsPerCache;
            if (backingId >= 0 && _caches.TryGetValue(cacheId, out var cache) && cache.Backings.TryGetValue(slot, out var backing))
                return backing;
            throw ControlException.NotFound($"no backing {backingId} (see 'pcache backing-list')", $"backing {backingId}");
        }
    }

    private static ControlException ShuttingDown() => new(ErrorCodes.ShuttingDown, "the pcache daemon is shutting down");
}

/// <summary>Holds the admin lock until disposed.</summary>
internal readonly struct AdminLease(SemaphoreSlim admin) : IDisposable
{
    public void Dispose() => admin.Release();
}

using PCache.Client;
using PCache.Daemon.Control;
using PCache.Engine.Cache;

namespace PCache.Daemon.Glue;

/// <summary>
/// cache-stop, and every cache at daemon exit: each backing stops gracefully (ksets persisted,
/// dirty data kept in pmem), then the cache device is closed.
/// </summary>
internal sealed class CacheStop(CacheTable table, NbdExports exports)
{
    public async Task<CacheStopResult> RunAsync(int cacheId, CancellationToken cancel)
    {
        using (await table.EnterAsync(cancel).ConfigureAwait(false))
        {
            var cache = table.FindCache(cacheId);
            if (cache.Backings.Values.FirstOrDefault(b => b.Busy) is { } busy)
                throw ControlException.Busy($"backing {busy.Id} of cache {cacheId} is being stopped; wait for it or cancel it first", $"backing {busy.Id}");
            await Task.WhenAll(cache.Backings.Values.Where(b => b.Export is not null).Select(b => exports.WithdrawAsync(b.ExportName))).ConfigureAwait(false);
            var result = Stop(cache, exports.DisconnectLimit);
            table.Remove(cacheId);
            Log.Notice($"cache {cacheId} ({cache.Path}) stopped; {ByteSize.Format(result.DirtyBytesKept)} dirty stay in it");
            return result;
        }
    }

    /// <summary>Daemon exit, once the drains have unwound: stop every cache.</summary>
    public async Task StopAllAsync()
    {
        using (await table.EnterToFinishAsync().ConfigureAwait(false))
        {
            foreach (var cache in table.Read(caches => caches.ToArray()))
            {
                var result = Stop(cache, exports.DisconnectLimit);
                Log.Notice($"cache {cache.Id} ({cache.Path}) stopped; {ByteSize.Format(result.DirtyBytesKept)} dirty kept in it");
            }
            table.Clear();
        }
    }

    private static CacheStopResult Stop(ManagedCache cache, TimeSpan requestWait)
    {
        var result = new CacheStopResult { CacheId = cache.Id, Path = cache.Path };
        bool drained = true, requestsDrained = true;
        var lingering = new List<BackingCache>();
        foreach (var b in cache.Backings.Values)
        {
            try
            {
                result.DirtyBytesKept += b.DirtyBytes;
                if (!b.Shutdown(requestWait))
                {
                    drained = false;
                    if (b.Lingering is { } l) lingering.Add(l);
                    else requestsDrained = false;
                }
                result.StoppedBackings.Add(b.Id);
            }
            catch (Exception e)
            {
                drained = requestsDrained = false;
                Log.Error($"backing {b.Id}: stop failed: {e.Message}");
            }
        }
        cache.Device.Dispose();
        // Unmapping under a request still copying to or from pmem would kill the daemon; a
        // mapping kept until exit costs only address space.
        if (drained) cache.Pmem.Dispose();
        else if (requestsDrained) ReleaseWhenWritebackReturns(cache, lingering);
        else Log.Error($"cache {cache.Id} ({cache.Path}): a request may still use it, so it stays mapped until the daemon exits");
        return result;
    }

    /// <summary>
    /// Only write-back I/O the backing has not answered may still read the mapping: release the
    /// device (and its lock, so cache-start can take it again) once that I/O has returned.
    /// </summary>
    private static void ReleaseWhenWritebackReturns(ManagedCache cache, List<BackingCache> lingering)
    {
        Log.Warning($"cache {cache.Id} ({cache.Path}): stays mapped until the backing answers the write-back I/O still out");
        new Thread(() =>
        {
            foreach (var l in lingering) l.WaitForAbandonedWriteback();
            cache.Pmem.Dispose();
            Log.Notice($"cache {cache.Id} ({cache.Path}): the abandoned write-back I/O returned; the device is released");
        }) { IsBackground = true, Name = $"pcache{cache.Id}-release" }.Start();
    }
}

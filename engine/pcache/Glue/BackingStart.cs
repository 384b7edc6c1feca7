using PCache.Client;
using PCache.Daemon.Control;
using PCache.Engine.Backing;
using PCache.Engine.Cache;
using PCache.Engine.Layout;
using PCache.Engine.Platform;

namespace PCache.Daemon.Glue;

/// <summary>
/// backing-start: open a backing device, check it is not already cached under any name, give it
/// segments of a started cache and export it over NBD. A path the cache already records is
/// re-attached instead.
/// </summary>
internal sealed class BackingStart(CacheTable table, NbdExports exports, BackingReattach reattach)
{
    public const int MinQueues = 1, MaxQueues = 1024;

    public async Task<BackingEntry> RunAsync(BackingStartArgs args, CancellationToken cancel)
    {
        if (string.IsNullOrWhiteSpace(args.Path)) throw ControlException.Invalid("backing-start needs a path", "path");
        string path = BackingOpener.Normalize(args.Path);
        if (args.CacheSize <= 0) throw ControlException.Invalid($"--cache-size must be more than 0, not {args.CacheSize}", "cache_size");
        int gc = args.GcPercent ?? BackingInfo.GcPercentDefault;
        if (gc < BackingInfo.GcPercentMin || gc > BackingInfo.GcPercentMax)
            throw ControlException.Invalid($"--gc-percent must be {BackingInfo.GcPercentMin}..{BackingInfo.GcPercentMax}, not {gc}", "gc_percent");
        int queues = args.Queues ?? 1;
        if (queues < MinQueues || queues > MaxQueues)
            throw ControlException.Invalid($"--queues must be {MinQueues}..{MaxQueues}, not {queues}", "queues");
        int cacheId = args.CacheId ?? 0;

        using (await table.EnterAsync(cancel).ConfigureAwait(false))
        {
            var cache = table.FindCache(cacheId);
            if (Recorded(cache, path) is { } recorded) return reattach.Retry(recorded);

            var device = BackingOpener.OpenForStart(path);
            try
            {
                var identity = BackingOpener.IdentityOf(path, device);
                CheckNotCachedElsewhere(path, device, identity);
                CheckSpace(cache, args.CacheSize);
                var running = Create(cache, device, new BackingOptions
                {
                    Path = path,
                    CacheSize = args.CacheSize,
                    GcPercent = gc,
                    Queues = (uint)queues,
                    PersistOnWrite = args.PersistOnWrite,
                    DataCrc = cache.DataCrc,
                    Fingerprint = identity.Fingerprint,
                });
                var backing = new ManagedBacking(cache, running.Info);
                backing.Run(device, running);
                table.Put(backing);
                exports.Publish(backing.Export!);
                Log.Notice($"backing {backing.Id} ({path}, {ByteSize.Format(running.Size)}) started on cache {cacheId} with {running.Info.SegmentCount} segments; exported as {backing.ExportName}");
                return Views.Backing(backing, exports);
            }
            catch
            {
                device.Dispose();
                throw;
            }
        }
    }

    /// <summary>The backing <paramref name="cache"/> records at <paramref name="path"/> but does not run, if any; a conflict if the path is in use.</summary>
    private ManagedBacking? Recorded(ManagedCache cache, string path) => table.Read(caches =>
    {
        ManagedBacking? recorded = null;
        foreach (var c in caches)
        {
            if (c.Path == path) throw ControlException.Conflict($"{path} is cache device {c.Id}; it cannot also be a backing", path);
            foreach (var b in c.Backings.Values.Where(b => b.Path == path))
            {
                if (b.Running is not null || c != cache)
                    throw ControlException.Conflict($"{path} is already cached as backing {b.Id} ({b.State}) on cache {c.Id}", $"backing {b.Id}");
                recorded = b;
            }
        }
        return recorded;
    });

    private void CheckNotCachedElsewhere(string path, IBackingDevice device, BackingIdentity identity)
    {
        var st = BackingOpener.IsRemote(path) ? default : FileStat.Of(path);
        table.Read(caches =>
        {
            foreach (var c in caches)
            {
                if (FileIdentity.Same(c.Path, st)) throw ControlException.Conflict($"{path} is cache device {c.Id} ({c.Path}); it cannot also be a backing", path);
                // The same file or disk under another name would be cached twice, incoherently.
                if (c.Backings.Values.FirstOrDefault(b => b.Info.Fingerprint == identity.Fingerprint && b.Info.BackingSize == device.Size) is { } twin)
                    throw ControlException.Conflict($"{path} is the same device as backing {twin.Id} ({twin.Path})", $"backing {twin.Id}");
            }
        });
    }

    private static void CheckSpace(ManagedCache cache, long cacheSize)
    {
        var sb = cache.Device.Superblock;
        long want = (cacheSize + sb.SegmentSize - 1) / sb.SegmentSize;
        int free = cache.Device.FreeSegments;
        if (want > free)
            throw new ControlException(ErrorCodes.NoSpace,
                $"--cache-size {ByteSize.Format(cacheSize)} needs {want} segments of {ByteSize.Format(sb.SegmentSize)}, but cache {cache.Id} ({cache.Path}) has only {free} free ({ByteSize.Format(free * sb.SegmentSize)})",
                $"cache {cache.Id}");
    }

    private static BackingCache Create(ManagedCache cache, IBackingDevice device, BackingOptions options)
    {
        try
        {
            return cache.Device.Create(options, device);
        }
        catch (ArgumentException e)
        {
            throw ControlException.Invalid(e.Message, options.Path);
        }
        catch (InvalidOperationException e)
        {
            throw new ControlException(ErrorCodes.NoSpace, $"cache {cache.Id}: {e.Message}", $"cache {cache.Id}");
        }
    }
}

using PCache.Client;
using PCache.Daemon.Control;
using PCache.Engine.Cache;
using PCache.Engine.Layout;
using PCache.Engine.Platform;
using PCache.Engine.Pmem;

namespace PCache.Daemon.Glue;

/// <summary>
/// cache-start: map a cache device (creating a stand-in file when asked), format it or open what it
/// holds, and bring back every backing it records.
/// </summary>
internal sealed class CacheStart(CacheTable table, NbdExports exports, BackingReattach reattach)
{
    public async Task<CacheStartResult> RunAsync(CacheStartArgs args, CancellationToken cancel)
    {
        if (string.IsNullOrWhiteSpace(args.Path)) throw ControlException.Invalid("cache-start needs a path", "path");
        string path = Path.GetFullPath(args.Path);
        long minimum = CacheDevice.MinimumSize(Geometry.MinSegmentShift);
        int? segmentShift = CheckSizes(args, path, minimum);

        using (await table.EnterAsync(cancel).ConfigureAwait(false))
        {
            var st = FileStat.Of(path);
            CheckNotInUse(path, st);
            bool created = st.Kind == FileKind.Missing;
            if (created && args.Size is null)
                throw ControlException.NotFound($"{path} does not exist; give --size (\"size\" in the config file) to create a file that stands in for pmem, e.g. in /dev/shm", path);

            var pmem = OpenPmem(path, args.Size ?? 0, minimum);
            try
            {
                bool format = args.Format || created;
                if (args.Format && !args.Force && !created && DeviceContents.Describe(pmem) is { } found)
                    throw ControlException.Conflict($"{path} holds {found}; --format would destroy it (add --force to format anyway)", path);
                var device = format ? Format(pmem, path, segmentShift) : Open(pmem, path);
                return Register(path, pmem, device, args.DataCrc, created, formatted: format);
            }
            catch
            {
                pmem.Dispose();
                if (created) TryDelete(path);
                throw;
            }
        }
    }

    /// <summary>The segment shift --segment-size asks for, after checking it and --size.</summary>
    private static int? CheckSizes(CacheStartArgs args, string path, long minimum)
    {
        if (args.Size is { } size && size < minimum)
            throw ControlException.Invalid($"--size {ByteSize.Format(size)} is too small for a cache device (at least {ByteSize.Format(minimum)})", path);
        if (args.SegmentSize is not { } seg) return null;
        if (seg <= 0 || (seg & (seg - 1)) != 0 || seg < (1L << Geometry.MinSegmentShift) || seg > (1L << Geometry.MaxSegmentShift))
            throw ControlException.Invalid($"--segment-size must be a power of two from 1 MiB to 1 GiB, not {seg}", path);
        return System.Numerics.BitOperations.Log2((ulong)seg);
    }

    private void CheckNotInUse(string path, FileStat st) => table.Read(caches =>
    {
        foreach (var c in caches)
        {
            if (c.Path == path || FileIdentity.Same(c.Path, st))
                throw ControlException.Conflict($"{path} is already started as cache {c.Id}", $"cache {c.Id}");
            if (c.Backings.Values.Any(b => b.Path == path))
                throw ControlException.Conflict($"{path} is a backing device of cache {c.Id}; it cannot also be a cache device", path);
        }
    });

    private static MappedPmem OpenPmem(string path, long size, long minimum)
    {
        try
        {
            return MappedPmem.Open(path, size, minimum);
        }
        catch (PmemException e)
        {
            throw PmemError(e, path);
        }
    }

    private static CacheDevice Format(MappedPmem pmem, string path, int? segmentShift)
    {
        var device = CacheDevice.Format(pmem, segmentShift ?? DeviceContents.SegmentShiftFor(pmem.Length));
        Log.Notice($"formatted {path}: {device.Superblock.SegmentCount} segments of {ByteSize.Format(device.Superblock.SegmentSize)}");
        return device;
    }

    private static CacheDevice Open(MappedPmem pmem, string path)
    {
        if (!DeviceContents.IsPCache(pmem))
        {
            string what = DeviceContents.Describe(pmem) is { } found ? $"it holds {found}" : "it is blank";
            throw ControlException.Invalid($"{path} is not a PCache cache device ({what}); add --format to make it one", path);
        }
        try
        {
            return CacheDevice.Open(pmem);
        }
        catch (MediaException e)
        {
            throw new ControlException(ErrorCodes.CorruptMedia, $"{path}: cannot open the cache device: {e.Message}", path);
        }
    }

    private CacheStartResult Register(string path, MappedPmem pmem, CacheDevice device, bool dataCrc, bool created, bool formatted)
    {
        var cache = new ManagedCache(table.FreeId(), path, pmem, device, dataCrc);
        foreach (var info in device.StoredBackings)
            cache.Backings[info.BackingId] = reattach.Reattach(cache, info);
        table.Add(cache);
        foreach (var b in cache.Backings.Values)
            if (b.Export is { } export) exports.Publish(export);
        Log.Notice($"cache {cache.Id} started on {path} ({pmem.PersistMode} mode, {device.FreeSegments} of {device.Superblock.SegmentCount} segments free, {cache.Backings.Count} backings recorded)");
        return new CacheStartResult
        {
            Cache = Views.Cache(cache),
            Created = created,
            Formatted = formatted,
            Backings = cache.Backings.Values.Select(b => Views.Backing(b, exports)).ToList(),
        };
    }

    private static ControlException PmemError(PmemException e, string path)
    {
        // The engine says "already in use by another pcache daemon" when the flock is held and
        // "device is busy" for a mounted block device; everything else is an I/O problem.
        if (e.Message.Contains("another pcache daemon", StringComparison.Ordinal))
            return ControlException.Conflict($"{e.Message}; a second daemon may not use the same cache device", path);
        if (e.Message.Contains("busy", StringComparison.Ordinal)) return ControlException.Busy(e.Message, path);
        if (e.Message.Contains("too small", StringComparison.Ordinal) || e.Message.Contains("smaller than", StringComparison.Ordinal)
            || e.Message.Contains("not a regular file", StringComparison.Ordinal))
            return ControlException.Invalid(e.Message, path);
        return new ControlException(ErrorCodes.IoError, e.Message, path);
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

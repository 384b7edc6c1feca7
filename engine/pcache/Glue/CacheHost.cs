using System.Diagnostics;
using PCache.Client;
using PCache.Daemon.Control;
using PCache.Engine.Backing;
using PCache.Engine.Cache;
using PCache.Engine.Layout;
using PCache.Engine.Platform;
using PCache.Engine.Pmem;

namespace PCache.Daemon.Glue;

/// <summary>
/// Every cache device the daemon has started and every backing they record. Changes are
/// serialised by one admin lock; readers (lists, statistics) take a short snapshot lock; a drain
/// holds neither while it writes back, so listing and other backings stay responsive.
/// </summary>
internal sealed class CacheHost(NbdExports exports, TimeSpan stuckAfter)
{
    public const int MinQueues = 1, MaxQueues = 1024;

    private readonly object _gate = new();
    private readonly SemaphoreSlim _admin = new(1, 1);
    private readonly SortedDictionary<int, ManagedCache> _caches = [];
    private readonly List<Task> _drains = [];
    private volatile bool _stopping;

    public NbdExports Exports { get; } = exports;

    /// <summary>A request inside the engine longer than this is stuck: counted in stat, logged once.</summary>
    public TimeSpan StuckAfter { get; } = stuckAfter;

    public int CacheCount
    {
        get { lock (_gate) return _caches.Count; }
    }

    public int BackingCount
    {
        get { lock (_gate) return _caches.Values.Sum(c => c.Backings.Count); }
    }

    // ---- cache-start -----------------------------------------------------------------------

    public async Task<CacheStartResult> StartCacheAsync(CacheStartArgs args, CancellationToken cancel)
    {
        if (string.IsNullOrWhiteSpace(args.Path)) throw ControlException.Invalid("cache-start needs a path", "path");
        string path = Path.GetFullPath(args.Path);
        long minimum = CacheDevice.MinimumSize(Geometry.MinSegmentShift);
        if (args.Size is { } size && size < minimum)
            throw ControlException.Invalid($"--size {ByteSize.Format(size)} is too small for a cache device (at least {ByteSize.Format(minimum)})", path);
        int? segmentShift = null;
        if (args.SegmentSize is { } seg)
        {
            if (seg <= 0 || (seg & (seg - 1)) != 0 || seg < (1L << Geometry.MinSegmentShift) || seg > (1L << Geometry.MaxSegmentShift))
                throw ControlException.Invalid($"--segment-size must be a power of two from 1 MiB to 1 GiB, not {seg}", path);
            segmentShift = System.Numerics.BitOperations.Log2((ulong)seg);
        }

        await EnterAdminAsync(cancel).ConfigureAwait(false);
        try
        {
            var st = FileStat.Of(path);
            lock (_gate)
            {
                foreach (var c in _caches.Values)
                {
                    if (c.Path == path || SameFile(c.Path, st))
                        throw ControlException.Conflict($"{path} is already started as cache {c.Id}", $"cache {c.Id}");
                    if (c.Backings.Values.Any(b => b.Path == path))
                        throw ControlException.Conflict($"{path} is a backing device of cache {c.Id}; it cannot also be a cache device", path);
                }
            }
            bool created = st.Kind == FileKind.Missing;
            if (created && args.Size is null)
                throw ControlException.NotFound($"{path} does not exist; give --size (\"size\" in the config file) to create a file that stands in for pmem, e.g. in /dev/shm", path);

            MappedPmem pmem;
            try
            {
                pmem = MappedPmem.Open(path, args.Size ?? 0, minimum);
            }
            catch (PmemException e)
            {
                throw PmemError(e, path);
            }

            try
            {
                bool formatted = false;
                CacheDevice device;
                if (args.Format || created)
                {
                    if (args.Format && !args.Force && !created && DeviceContents.Describe(pmem) is { } found)
                        throw ControlException.Conflict($"{path} holds {found}; --format would destroy it (add --force to format anyway)", path);
                    device = CacheDevice.Format(pmem, segmentShift ?? DeviceContents.SegmentShiftFor(pmem.Length));
                    formatted = true;
                    Log.Notice($"formatted {path}: {device.Superblock.SegmentCount} segments of {ByteSize.Format(device.Superblock.SegmentSize)}");
                }
                else if (!DeviceContents.IsPCache(pmem))
                {
                    string what = DeviceContents.Describe(pmem) is { } found ? $"it holds {found}" : "it is blank";
                    throw ControlException.Invalid($"{path} is not a PCache cache device ({what}); add --format to make it one", path);
                }
                else
                {
                    try
                    {
                        device = CacheDevice.Open(pmem);
                    }
                    catch (MediaException e)
                    {
                        throw new ControlException(ErrorCodes.CorruptMedia, $"{path}: cannot open the cache device: {e.Message}", path);
                    }
                }
                // A backing's data CRC is recorded when it is created and cannot change (as dm-pcache
                // refuses a table with another data_crc): asking for it on a device whose backings lack it is refused.
                if (!formatted && args.DataCrc && device.StoredBackings.FirstOrDefault(b => !b.DataCrc) is { } plain)
                    throw ControlException.Conflict($"{path}: its backing {plain.Path} was created without data CRC, which cannot be turned on later; start without --data-crc, or remove the backing first", path);

                ManagedCache cache;
                lock (_gate)
                {
                    int id = 0;
                    while (_caches.ContainsKey(id)) id++;
                    cache = new ManagedCache(id, path, pmem, device, args.DataCrc);
                }
                foreach (var info in device.StoredBackings)
                    cache.Backings[info.BackingId] = Reattach(cache, info);
                lock (_gate) _caches[cache.Id] = cache;
                foreach (var b in cache.Backings.Values)
                    if (b.Export is { } export) Exports.Publish(export);
                Log.Notice($"cache {cache.Id} started on {path} ({pmem.PersistMode} mode, {device.FreeSegments} of {device.Superblock.SegmentCount} segments free, {cache.Backings.Count} backings recorded)");
                return new CacheStartResult
                {
                    Cache = Views.Cache(cache),
                    Created = created,
                    Formatted = formatted,
                    Backings = cache.Backings.Values.Select(b => Views.Backing(b, Exports)).ToList(),
                };
            }
            catch
            {
                pmem.Dispose();
                if (created) TryDelete(path);
                throw;
            }
        }
        finally
        {
            _admin.Release();
        }
    }

    /// <summary>
    /// Bring back a backing the cache recorded, but only if the device at its path is the one
    /// recorded: same size and same fingerprint. Otherwise it is kept aside with its dirty data.
    /// </summary>
    private ManagedBacking Reattach(ManagedCache cache, BackingInfo info)
    {
        var backing = new ManagedBacking(cache, info);
        string path = info.Path;
        IBackingDevice? device = null;
        try
        {
            if (!BackingOpener.IsRemote(path) && FileStat.Of(path).Kind == FileKind.Missing)
                return KeepAside(backing, BackingStates.Unavailable, $"{path} does not exist");
            try
            {
                device = BackingOpener.Open(path);
            }
            catch (ArgumentException e)
            {
                return KeepAside(backing, BackingStates.Unavailable, e.Message);
            }
            catch (IOException e)
            {
                return KeepAside(backing, BackingStates.Unavailable, e.Message);
            }
            if (device.Size != info.BackingSize)
                return KeepAside(backing, BackingStates.Refused,
                    $"identity mismatch: {path} is {device.Size} bytes but the cache recorded {info.BackingSize} for this backing");
            var identity = BackingOpener.IdentityOf(path, device);
            if (info.Fingerprint != 0 && identity.Fingerprint != info.Fingerprint)
                return KeepAside(backing, BackingStates.Refused,
                    $"identity mismatch: {path} is not the device this cache recorded (now {identity.Description}; fingerprint {identity.Fingerprint:x16}, recorded {info.Fingerprint:x16})");
            if (info.Fingerprint == 0)
                Log.Warning($"backing {backing.Id} ({path}) has no recorded fingerprint; only its path and size were checked");

            var running = cache.Device.Attach(info.BackingId, device);
            backing.Run(device, running);
            device = null;
            var status = running.GetStatus();
            Log.Notice($"backing {backing.Id} ({path}) re-attached as {backing.ExportName}: replayed {status.ReplayKsets} ksets in {status.ReplayMilliseconds:0} ms, {ByteSize.Format(status.DirtyBytes)} dirty");
            return backing;
        }
        catch (MediaException e)
        {
            backing.State = BackingStates.Corrupt;
            backing.Error = $"{e.Message}; the backing is kept aside (its cached data cannot be trusted)";
            Log.Error($"backing {backing.Id} ({path}): {backing.Error}");
            return backing;
        }
        catch (IOException e)
        {
            return KeepAside(backing, BackingStates.Unavailable, e.Message);
        }
        finally
        {
            device?.Dispose();
        }
    }

    private ManagedBacking KeepAside(ManagedBacking backing, string state, string reason)
    {
        backing.State = state;
        try
        {
            // One replay against a device that refuses all I/O, just to learn what is dirty.
            using var offline = backing.Cache.Device.Attach(backing.Slot, new OfflineBackingDevice(backing.Info));
            backing.OfflineStatus = offline.GetStatus();
        }
        catch (MediaException e)
        {
            backing.State = BackingStates.Corrupt;
            reason = $"{reason}; and its cache records cannot be trusted: {e.Message}";
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            reason = $"{reason}; its dirty data could not be measured: {e.Message}";
        }
        string keep = backing.OfflineStatus is { } s
            ? $"its {ByteSize.Format(s.DirtyBytes)} of dirty data stay safe in the cache"
            : "its cached data stay in the cache";
        backing.Error = $"{reason}; backing {backing.Id} is not attached and {keep}. Restore the device and run " +
            $"'pcache backing-start --cache-id {backing.Cache.Id} --path {backing.Path} --cache-size {ByteSize.ToArgument(backing.Info.SegmentCount * backing.Cache.Device.Superblock.SegmentSize)}', " +
            $"or discard the data with 'pcache backing-stop --backing-id {backing.Id} --force'";
        Log.Error($"backing {backing.Id} ({backing.Path}) refused: {backing.Error}");
        return backing;
    }

    // ---- cache-stop ------------------------------------------------------------------------

    public async Task<CacheStopResult> StopCacheAsync(int cacheId, CancellationToken cancel)
    {
        await EnterAdminAsync(cancel).ConfigureAwait(false);
        try
        {
            var cache = FindCache(cacheId);
            if (cache.Backings.Values.FirstOrDefault(b => b.Busy) is { } busy)
                throw ControlException.Busy($"backing {busy.Id} of cache {cacheId} is being stopped; wait for it or cancel it first", $"backing {busy.Id}");
            await Task.WhenAll(cache.Backings.Values.Where(b => b.Export is not null).Select(b => Exports.WithdrawAsync(b.ExportName))).ConfigureAwait(false);
            var result = StopCache(cache, Exports.DisconnectLimit);
            lock (_gate) _caches.Remove(cacheId);
            Log.Notice($"cache {cacheId} ({cache.Path}) stopped; {ByteSize.Format(result.DirtyBytesKept)} dirty stay in it");
            return result;
        }
        finally
        {
            _admin.Release();
        }
    }

    private static CacheStopResult StopCache(ManagedCache cache, TimeSpan requestWait)
    {
        var result = new CacheStopResult { CacheId = cache.Id, Path = cache.Path };
        bool drained = true;
        foreach (var b in cache.Backings.Values)
        {
            try
            {
                result.DirtyBytesKept += b.DirtyBytes;
                drained &= b.Shutdown(requestWait);
                result.StoppedBackings.Add(b.Id);
            }
            catch (Exception e)
            {
                drained = false;
                Log.Error($"backing {b.Id}: stop failed: {e.Message}");
            }
        }
        cache.Device.Dispose();
        // Unmapping under a request still copying to or from pmem would kill the daemon; a
        // mapping kept until exit costs only address space.
        if (drained) cache.Pmem.Dispose();
        else Log.Error($"cache {cache.Id} ({cache.Path}): a request may still use it, so it stays mapped until the daemon exits");
        return result;
    }

    // ---- backing-start ---------------------------------------------------------------------

    public async Task<BackingEntry> StartBackingAsync(BackingStartArgs args, CancellationToken cancel)
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
        var mode = BackingPolicy.ParseMode(args.Mode);
        BackingPolicy.Check(args.SequentialCutoff, args.ReadAdmission);
        int cacheId = args.CacheId ?? 0;

        await EnterAdminAsync(cancel).ConfigureAwait(false);
        try
        {
            var cache = FindCache(cacheId);
            ManagedBacking? recorded = null;
            lock (_gate)
            {
                foreach (var c in _caches.Values)
                {
                    if (c.Path == path) throw ControlException.Conflict($"{path} is cache device {c.Id}; it cannot also be a backing", path);
                    foreach (var b in c.Backings.Values.Where(b => b.Path == path))
                    {
                        if (b.Running is not null || c != cache)
                            throw ControlException.Conflict($"{path} is already cached as backing {b.Id} ({b.State}) on cache {c.Id}", $"backing {b.Id}");
                        recorded = b;
                    }
                }
            }
            if (recorded is not null) return RetryReattach(recorded);

            var device = BackingOpener.OpenForStart(path);
            try
            {
                var identity = BackingOpener.IdentityOf(path, device);
                var st = BackingOpener.IsRemote(path) ? default : FileStat.Of(path);
                lock (_gate)
                {
                    foreach (var c in _caches.Values)
                    {
                        if (SameFile(c.Path, st)) throw ControlException.Conflict($"{path} is cache device {c.Id} ({c.Path}); it cannot also be a backing", path);
                        // The same file or disk under another name would be cached twice, incoherently.
                        if (c.Backings.Values.FirstOrDefault(b => b.Info.Fingerprint == identity.Fingerprint && b.Info.BackingSize == device.Size) is { } twin)
                            throw ControlException.Conflict($"{path} is the same device as backing {twin.Id} ({twin.Path})", $"backing {twin.Id}");
                    }
                }
                var sb = cache.Device.Superblock;
                long want = (args.CacheSize + sb.SegmentSize - 1) / sb.SegmentSize;
                int free = cache.Device.FreeSegments;
                if (want > free)
                    throw new ControlException(ErrorCodes.NoSpace,
                        $"--cache-size {ByteSize.Format(args.CacheSize)} needs {want} segments of {ByteSize.Format(sb.SegmentSize)}, but cache {cacheId} ({cache.Path}) has only {free} free ({ByteSize.Format(free * sb.SegmentSize)})",
                        $"cache {cacheId}");
                BackingCache running;
                try
                {
                    running = cache.Device.Create(new BackingOptions
                    {
                        Path = path,
                        CacheSize = args.CacheSize,
                        GcPercent = gc,
                        Queues = (uint)queues,
                        PersistOnWrite = args.PersistOnWrite,
                        Mode = mode ?? CacheMode.Writeback,
                        DataCrc = cache.DataCrc,
                        Fingerprint = identity.Fingerprint,
                    }, device);
                }
                catch (ArgumentException e)
                {
                    throw ControlException.Invalid(e.Message, path);
                }
                catch (InvalidOperationException e)
                {
                    throw new ControlException(ErrorCodes.NoSpace, $"cache {cacheId}: {e.Message}", $"cache {cacheId}");
                }
                var backing = new ManagedBacking(cache, running.Info);
                backing.SequentialCutoff = args.SequentialCutoff ?? 0;
                backing.ReadAdmission = args.ReadAdmission ?? 0;
                backing.Run(device, running);
                lock (_gate) cache.Backings[backing.Slot] = backing;
                Exports.Publish(backing.Export!);
                Log.Notice($"backing {backing.Id} ({path}, {ByteSize.Format(running.Size)}) started on cache {cacheId} with {running.Info.SegmentCount} segments; exported as {backing.ExportName}");
                return Views.Backing(backing, Exports);
            }
            catch
            {
                device.Dispose();
                throw;
            }
        }
        finally
        {
            _admin.Release();
        }
    }

    /// <summary>backing-start on a path the cache already records: the admin restored the device; check it again.</summary>
    private BackingEntry RetryReattach(ManagedBacking old)
    {
        var backing = Reattach(old.Cache, old.Info);
        lock (_gate) old.Cache.Backings[backing.Slot] = backing;
        if (backing.Export is null)
        {
            string code = backing.State switch
            {
                BackingStates.Refused => ErrorCodes.IdentityMismatch,
                BackingStates.Corrupt => ErrorCodes.CorruptMedia,
                _ => ErrorCodes.IoError,
            };
            throw new ControlException(code, $"backing {backing.Id}: {backing.Error}", backing.Path);
        }
        Exports.Publish(backing.Export);
        return Views.Backing(backing, Exports);
    }

    // ---- backing-stop ----------------------------------------------------------------------

    public async Task<BackingStopResult> StopBackingAsync(BackingStopArgs args, ProgressSink progress, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        ManagedBacking backing;
        BackingCache running;
        await EnterAdminAsync(cancel).ConfigureAwait(false);
        try
        {
            backing = FindBacking(args.BackingId);
            if (backing.Busy) throw ControlException.Busy($"backing {backing.Id} is already being stopped", $"backing {backing.Id}");
            if (backing.Running is null)
                return Forget(backing, args.Force);
            running = backing.Running;
            // Withdrawing the export under a mounted filesystem aborts its journal: only on request.
            int clients = Exports.Server.ConnectionCountFor(backing.ExportName);
            if (clients > 0 && !args.Force)
                throw new ControlException(ErrorCodes.BackingInUse,
                    $"backing {backing.Id} is in use: {clients} NBD client{(clients == 1 ? " is" : "s are")} connected to {backing.ExportName} " +
                    "(unmount or disconnect them first; --force disconnects them, after writing back every dirty byte)",
                    $"backing {backing.Id}");
            backing.Busy = true;
            backing.State = BackingStates.Draining;
            // No NBD client may write while the drain chases dirty_tail to key_head.
            await Exports.WithdrawAsync(backing.ExportName).ConfigureAwait(false);
        }
        finally
        {
            _admin.Release();
        }

        long initial = Math.Max(0, running.DirtyBytes);
        DrainProgress Snapshot(long left, bool done) => new()
        {
            BackingId = backing.Id,
            DirtyBytes = Math.Max(0, left),
            InitialDirtyBytes = initial,
            WritebackError = running.WritebackError,
            Done = done,
        };
        progress.Report(() => Snapshot(initial, false), force: true);
        Log.Notice($"backing {backing.Id} ({backing.Path}): writing back {ByteSize.Format(initial)} of dirty data before it stops");

        var drain = Task.Factory.StartNew(() => running.Drain(cancel, left => progress.Report(() => Snapshot(left, false))),
            cancel, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        lock (_drains) _drains.Add(drain);
        try
        {
            await drain.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await RestoreAsync(backing).ConfigureAwait(false);
            if (e is OperationCanceledException)
            {
                Log.Notice($"backing {backing.Id}: backing-stop cancelled; it stays attached as {backing.ExportName}");
                throw new ControlException(ErrorCodes.Cancelled,
                    $"backing-stop cancelled: backing {backing.Id} stays attached and exported as {backing.ExportName}, with {ByteSize.Format(Math.Max(0, running.DirtyBytes))} still dirty (nothing was lost)",
                    $"backing {backing.Id}");
            }
            throw new ControlException(ErrorCodes.IoError, $"backing {backing.Id}: write-back failed: {e.Message}; it stays attached", $"backing {backing.Id}");
        }
        finally
        {
            lock (_drains) _drains.Remove(drain);
        }

        await _admin.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            try
            {
                backing.Cache.Device.Remove(backing.Slot);
            }
            catch (InvalidOperationException e)
            {
                backing.Busy = false;
                backing.State = BackingStates.Running;
                if (!_stopping) Exports.Publish(backing.Export!);
                throw ControlException.Conflict($"backing {backing.Id}: {e.Message}", $"backing {backing.Id}");
            }
            backing.Device?.Dispose();
            lock (_gate) backing.Cache.Backings.Remove(backing.Slot);
        }
        finally
        {
            _admin.Release();
        }
        progress.Report(() => Snapshot(0, true), force: true);
        Log.Notice($"backing {backing.Id} ({backing.Path}) stopped after writing back {ByteSize.Format(initial)}");
        return new BackingStopResult
        {
            BackingId = backing.Id,
            BackingPath = backing.Path,
            WrittenBackBytes = initial,
            Seconds = clock.Elapsed.TotalSeconds,
        };
    }

    private async Task RestoreAsync(ManagedBacking backing)
    {
        await _admin.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            backing.Busy = false;
            backing.State = BackingStates.Running;
            if (!_stopping && backing.Export is { } export) Exports.Publish(export);
        }
        finally
        {
            _admin.Release();
        }
    }

    /// <summary>backing-stop on a backing that is not attached: only with --force, since its dirty data go with it.</summary>
    private BackingStopResult Forget(ManagedBacking backing, bool force)
    {
        long dirty = backing.DirtyBytes;
        if (!force)
            throw ControlException.Conflict(
                $"backing {backing.Id} is {backing.State}, so its dirty data cannot be written back: {backing.Error} " +
                $"(--force discards {ByteSize.Format(dirty)} of dirty data)", $"backing {backing.Id}");
        backing.Cache.Device.Remove(backing.Slot);
        lock (_gate) backing.Cache.Backings.Remove(backing.Slot);
        Log.Warning($"backing {backing.Id} ({backing.Path}) forgotten with --force; {ByteSize.Format(dirty)} of dirty data discarded");
        return new BackingStopResult { BackingId = backing.Id, BackingPath = backing.Path, DiscardedDirtyBytes = dirty };
    }

    // ---- backing-set, lists, statistics ----------------------------------------------------

    public async Task<BackingEntry> SetBackingAsync(BackingSetArgs args, CancellationToken cancel)
    {
        if (args.GcPercent is { } gc && (gc < BackingInfo.GcPercentMin || gc > BackingInfo.GcPercentMax))
            throw ControlException.Invalid($"--gc-percent must be {BackingInfo.GcPercentMin}..{BackingInfo.GcPercentMax}, not {gc}", "gc_percent");
        var mode = BackingPolicy.ParseMode(args.Mode);
        BackingPolicy.Check(args.SequentialCutoff, args.ReadAdmission);
        await EnterAdminAsync(cancel).ConfigureAwait(false);
        try
        {
            var backing = FindBacking(args.BackingId);
            if (backing.Running is not { } running || backing.Busy)
                throw ControlException.Conflict($"backing {backing.Id} is {backing.State}; only a running backing can be changed", $"backing {backing.Id}");
            if (args.GcPercent is { } percent)
            {
                running.SetGcPercent(percent);
                backing.Info = running.Info;
                Log.Notice($"backing {backing.Id}: gc_percent set to {percent}");
            }
            BackingPolicy.Apply(backing, running, mode, args.SequentialCutoff, args.ReadAdmission);
            return Views.Backing(backing, Exports);
        }
        finally
        {
            _admin.Release();
        }
    }

    public List<CacheEntry> ListCaches()
    {
        lock (_gate) return _caches.Values.Select(Views.Cache).ToList();
    }

    public List<BackingEntry> ListBackings(int? cacheId)
    {
        lock (_gate)
        {
            if (cacheId is { } id && !_caches.ContainsKey(id)) throw ControlException.NotFound($"no cache {id} is started", $"cache {id}");
            return _caches.Values.Where(c => cacheId is null || c.Id == cacheId)
                .SelectMany(c => c.Backings.Values).Select(b => Views.Backing(b, Exports)).ToList();
        }
    }

    public List<BackingStatistics> Statistics(int? backingId, bool reset)
    {
        lock (_gate)
        {
            var selected = backingId is { } id ? [FindBacking(id)] : _caches.Values.SelectMany(c => c.Backings.Values).ToList();
            var stats = selected.Select(b => Views.Statistics(b, StuckAfter)).ToList();
            if (reset)
                foreach (var b in selected) b.Running?.Stats.Reset();
            return stats;
        }
    }

    /// <summary>Log each request that became stuck since the last look, once (with the backing's count and oldest age).</summary>
    public void ReportStuckRequests()
    {
        List<ManagedBacking> running;
        lock (_gate) running = _caches.Values.SelectMany(c => c.Backings.Values).Where(b => b.Running is not null).ToList();
        foreach (var b in running)
        {
            if (b.Running is not { } cache) continue;
            var census = cache.Requests(StuckAfter, report: true);
            if (census.NewlyStuck > 0)
                Log.Warning($"backing {b.Id} ({b.Path}): {census.Stuck} request(s) waiting longer than {StuckAfter.TotalSeconds:0} s, the oldest for {census.OldestSeconds:0.0} s " +
                    $"(a slow or hung backing device; see 'pcache stat --backing-id {b.Id}')");
        }
    }

    // ---- shutdown --------------------------------------------------------------------------

    /// <summary>
    /// Daemon exit: new operations are refused, drains (already cancelled by the caller's token)
    /// unwind, then every backing stops gracefully — ksets persisted, dirty data kept in pmem.
    /// </summary>
    public async Task StopAllAsync()
    {
        _stopping = true;
        Task[] drains;
        lock (_drains) drains = _drains.ToArray();
        try { await Task.WhenAll(drains).ConfigureAwait(false); } catch (Exception) { /* reported to their clients */ }
        await _admin.WaitAsync().ConfigureAwait(false);
        try
        {
            ManagedCache[] caches;
            lock (_gate) caches = _caches.Values.ToArray();
            foreach (var cache in caches)
            {
                var result = StopCache(cache, Exports.DisconnectLimit);
                Log.Notice($"cache {cache.Id} ({cache.Path}) stopped; {ByteSize.Format(result.DirtyBytesKept)} dirty kept in it");
            }
            lock (_gate) _caches.Clear();
        }
        finally
        {
            _admin.Release();
        }
    }

    // ---- helpers ---------------------------------------------------------------------------

    private async Task EnterAdminAsync(CancellationToken cancel)
    {
        if (_stopping) throw new ControlException(ErrorCodes.ShuttingDown, "the pcache daemon is shutting down");
        await _admin.WaitAsync(cancel).ConfigureAwait(false);
        if (_stopping)
        {
            _admin.Release();
            throw new ControlException(ErrorCodes.ShuttingDown, "the pcache daemon is shutting down");
        }
    }

    private ManagedCache FindCache(int cacheId)
    {
        lock (_gate)
        {
            if (_caches.TryGetValue(cacheId, out var cache)) return cache;
            throw ControlException.NotFound(_caches.Count == 0
                ? $"no cache {cacheId} is started (no cache device is started: run 'pcache cache-start --path DEVICE' first)"
                : $"no cache {cacheId} is started (started: {string.Join(", ", _caches.Keys)})", $"cache {cacheId}");
        }
    }

    private ManagedBacking FindBacking(int backingId)
    {
        lock (_gate)
        {
            int cacheId = backingId / ControlProtocol.BackingsPerCache, slot = backingId % ControlProtocol.BackingsPerCache;
            if (backingId >= 0 && _caches.TryGetValue(cacheId, out var cache) && cache.Backings.TryGetValue(slot, out var backing))
                return backing;
            throw ControlException.NotFound($"no backing {backingId} (see 'pcache backing-list')", $"backing {backingId}");
        }
    }

    private static bool SameFile(string startedPath, FileStat candidate)
    {
        if (candidate.Kind == FileKind.Missing) return false;
        var st = FileStat.Of(startedPath);
        return st.Kind == candidate.Kind && (st.Kind == FileKind.Regular
            ? st.Inode == candidate.Inode && st.DevMajor == candidate.DevMajor && st.DevMinor == candidate.DevMinor
            : st.RdevMajor == candidate.RdevMajor && st.RdevMinor == candidate.RdevMinor);
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

using PCache.Client;
using PCache.Daemon.Control;
using PCache.Engine.Backing;
using PCache.Engine.Layout;
using PCache.Engine.Platform;

namespace PCache.Daemon.Glue;

/// <summary>
/// Bringing back a backing the cache recorded (at cache-start, or when backing-start names it
/// again), but only if the device at its path is the one recorded: same size and same
/// fingerprint. Otherwise it is kept aside with its dirty data.
/// </summary>
internal sealed class BackingReattach(CacheTable table, NbdExports exports)
{
    public ManagedBacking Reattach(ManagedCache cache, BackingInfo info)
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

    /// <summary>backing-start on a path the cache already records: the admin restored the device; check it again.</summary>
    public BackingEntry Retry(ManagedBacking old)
    {
        var backing = Reattach(old.Cache, old.Info);
        table.Put(backing);
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
        exports.Publish(backing.Export);
        return Views.Backing(backing, exports);
    }

    private static ManagedBacking KeepAside(ManagedBacking backing, string state, string reason)
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
}

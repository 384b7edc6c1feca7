using PCache.Client;

namespace PCache.Core;

/// <summary>What Start-PCacheCache and Initialize-PCacheCache ask for.</summary>
/// <param name="Path">Absolute path of the pmem device or stand-in file.</param>
/// <param name="Size">Create a file of this size when the path does not exist.</param>
/// <param name="SegmentSize">Segment size when the device is formatted.</param>
public sealed record CacheStartRequest(string Path, long? Size = null, long? SegmentSize = null, bool DataCrc = false);

/// <summary>Get-, Start-, Initialize- and Stop-PCacheCache.</summary>
public static class CacheOperations
{
    public static void Get(PCacheClient client, ICommandSink sink, IReadOnlyCollection<int>? cacheIds, IReadOnlyCollection<string>? paths)
    {
        if (!ClientCall.TryRun(client, sink, null, client.ListCachesAsync, out var caches)) return;
        var selected = Selection.Apply(caches, c => c.CacheId, c => c.Path, cacheIds, paths);
        foreach (var c in selected.Items) sink.WriteObject(Cache.From(c, client.Socket.Path));
        foreach (int id in selected.MissingIds)
            sink.WriteError(ErrorTranslator.Module(ErrorTranslator.CacheNotFoundId, $"No cache {id} is started on the daemon at {client.Socket.Path}.", id));
        foreach (string path in selected.MissingPaths)
            sink.WriteError(ErrorTranslator.Module(ErrorTranslator.CacheNotFoundId, $"No cache is started on {path} (daemon at {client.Socket.Path}).", path));
    }

    /// <summary>Start a cache device; a device that is already started is returned as it is.</summary>
    public static void Start(PCacheClient client, ICommandSink sink, CacheStartRequest request)
    {
        if (!ClientCall.TryRun(client, sink, request.Path, client.ListCachesAsync, out var caches)) return;
        if (caches.FirstOrDefault(c => c.Path == request.Path) is { } started)
        {
            var differences = new List<string>();
            if (request.Size is { } wanted && wanted != started.Size)
                differences.Add($"it is {ByteSize.Format(started.Size)}, not the -Size {ByteSize.Format(wanted)} asked for");
            if (request.SegmentSize is { } seg && seg != started.SegmentSize)
                differences.Add($"its segments are {ByteSize.Format(started.SegmentSize)}, not the -SegmentSize {ByteSize.Format(seg)} asked for");
            if (request.DataCrc && !started.DataCrc)
                differences.Add("it was formatted without -DataCrc");
            if (differences.Count > 0)
            {
                sink.WriteError(ErrorTranslator.Module(ErrorTranslator.CacheConflictId,
                    $"{request.Path} is already started as cache {started.CacheId}, but {string.Join("; ", differences)}.",
                    Cache.From(started, client.Socket.Path),
                    $"Leave out the settings to use the started cache as it is; to change them, stop it (Stop-PCacheCache -CacheId {started.CacheId}) and format it again with Initialize-PCacheCache."));
                return;
            }
            sink.WriteVerbose($"{request.Path} is already started as cache {started.CacheId}; nothing to do");
            sink.WriteObject(Cache.From(started, client.Socket.Path));
            return;
        }
        string action = request.Size is { } size
            ? $"Start the cache device (creating and formatting a {ByteSize.Format(size)} file if it does not exist)"
            : "Start the cache device";
        if (!sink.ShouldProcess(request.Path, action)) return;
        Run(client, sink, request, format: false, force: false);
    }

    /// <summary>Format a cache device (everything on it is lost) and start it.</summary>
    public static void Initialize(PCacheClient client, ICommandSink sink, CacheStartRequest request, bool force)
    {
        string action = "Format as a new, empty PCache cache device and start it; everything stored on it is lost";
        if (!sink.ShouldProcess(request.Path, action)) return;
        Run(client, sink, request, format: true, force);
    }

    private static void Run(PCacheClient client, ICommandSink sink, CacheStartRequest request, bool format, bool force)
    {
        var args = new CacheStartArgs
        {
            Path = request.Path,
            Size = request.Size,
            SegmentSize = request.SegmentSize,
            DataCrc = request.DataCrc,
            Format = format,
            Force = force,
        };
        // The daemon speaks of --force (the CLI's option); here the switch is -Force.
        Func<PCacheError, PCacheError> reword = e => format && !force && e.ErrorId == "PCacheConflict"
            ? e with { RecommendedAction = "Add -Force to format it anyway; everything stored on it is lost." }
            : e;
        if (!ClientCall.TryRun(client, sink, request.Path, c => client.StartCacheAsync(args, c), out var result, reword)) return;
        var cache = result.Cache;
        if (result.Created) sink.WriteVerbose($"created {cache.Path} ({ByteSize.Format(cache.Size)})");
        if (result.Formatted) sink.WriteVerbose($"formatted {cache.Path}: {cache.SegmentNum} segments of {ByteSize.Format(cache.SegmentSize)}");
        foreach (var b in result.Backings)
        {
            if (b.State == BackingStates.Running)
                sink.WriteVerbose($"backing {b.BackingId} ({b.BackingPath}) re-attached as {b.Export}, {ByteSize.Format(b.DirtyBytes)} dirty");
            else
                sink.WriteWarning($"backing {b.BackingId} ({b.BackingPath}) is {b.State}: {b.Error}");
        }
        if (cache.PersistMode == "memory")
            sink.WriteWarning($"{cache.Path} is emulated pmem (a file in memory): its contents, dirty data included, are lost at reboot");
        sink.WriteObject(Cache.From(cache, client.Socket.Path));
    }

    /// <summary>
    /// Stop a cache device. Dirty data would stay only in the cache device, so without
    /// <paramref name="force"/> a cache holding any is refused with the way to write it back.
    /// </summary>
    public static void Stop(PCacheClient client, ICommandSink sink, int cacheId, bool force, bool passThru)
    {
        if (!ClientCall.TryRun(client, sink, cacheId, client.ListCachesAsync, out var caches)) return;
        if (caches.FirstOrDefault(c => c.CacheId == cacheId) is not { } cache)
        {
            sink.WriteError(ErrorTranslator.Module(ErrorTranslator.CacheNotFoundId, $"No cache {cacheId} is started on the daemon at {client.Socket.Path}.", cacheId));
            return;
        }
        if (!ClientCall.TryRun(client, sink, cacheId, c => client.ListBackingsAsync(cacheId, c), out var backings)) return;
        var dirty = backings.Where(b => b.DirtyBytes > 0).ToList();
        long dirtyBytes = dirty.Sum(b => b.DirtyBytes);
        string volatileNote = cache.PersistMode == "memory" ? " (emulated pmem: lost at reboot)" : "";
        if (dirtyBytes > 0 && !force)
        {
            string each = string.Join(", ", dirty.Select(b => $"backing {b.BackingId}: {ByteSize.Format(b.DirtyBytes)}"));
            sink.WriteError(ErrorTranslator.Module(ErrorTranslator.CacheHasDirtyDataId,
                $"Cache {cacheId} ({cache.Path}) holds {ByteSize.Format(dirtyBytes)} of dirty data not yet on the backing devices ({each}); " +
                $"stopping would keep it only in the cache device{volatileNote} until the cache is started again.",
                cacheId,
                $"Write it back first with 'Get-PCacheBacking -CacheId {cacheId} | Sync-PCacheBacking', or add -Force to stop anyway."));
            return;
        }
        var exports = backings.Where(b => b.State == BackingStates.Running).Select(b => b.Export).ToList();
        string action = exports.Count == 0
            ? "Stop the cache device"
            : $"Stop the cache device and withdraw its NBD exports ({string.Join(", ", exports)}); connected NBD clients lose their devices";
        if (dirtyBytes > 0) action += $"; {ByteSize.Format(dirtyBytes)} of dirty data stays only in the cache device{volatileNote}";
        if (!sink.ShouldProcess($"cache {cacheId} ({cache.Path})", action)) return;
        if (!ClientCall.TryRun(client, sink, cacheId, c => client.StopCacheAsync(cacheId, c), out var stopped)) return;
        sink.WriteVerbose($"cache {cacheId} stopped; {ByteSize.Format(stopped.DirtyBytesKept)} of dirty data kept in {stopped.Path}");
        if (passThru) sink.WriteObject(StoppedCache.From(stopped, client.Socket.Path));
    }
}

using PCache.Client;

namespace PCache.Core;

/// <summary>Get-, Add- and Set-PCacheBacking.</summary>
public static class BackingOperations
{
    public static void Get(PCacheClient client, ICommandSink sink, IReadOnlyCollection<int>? backingIds, IReadOnlyCollection<int>? cacheIds, IReadOnlyCollection<string>? paths)
    {
        if (cacheIds is { Count: > 0 })
        {
            if (!ClientCall.TryRun(client, sink, null, client.ListCachesAsync, out var caches)) return;
            foreach (int missing in cacheIds.Where(id => caches.All(c => c.CacheId != id)).Distinct())
                sink.WriteError(ErrorTranslator.Module(ErrorTranslator.CacheNotFoundId, $"No cache {missing} is started on the daemon at {client.Socket.Path}.", missing));
        }
        if (!ClientCall.TryRun(client, sink, null, c => client.ListBackingsAsync(null, c), out var all)) return;
        var inCaches = cacheIds is { Count: > 0 } ? all.Where(b => cacheIds.Contains(b.CacheId)).ToList() : all;
        var selected = Selection.Apply(inCaches, b => b.BackingId, b => b.BackingPath, backingIds, paths);
        foreach (var b in selected.Items) sink.WriteObject(Backing.From(b, client.Socket.Path));
        foreach (int id in selected.MissingIds)
            sink.WriteError(ErrorTranslator.Module(ErrorTranslator.BackingNotFoundId, $"No backing {id}{InCaches(cacheIds)} on the daemon at {client.Socket.Path}.", id));
        foreach (string path in selected.MissingPaths)
            sink.WriteError(ErrorTranslator.Module(ErrorTranslator.BackingNotFoundId, $"{path} is not a backing{InCaches(cacheIds)} on the daemon at {client.Socket.Path}.", path));
    }

    private static string InCaches(IReadOnlyCollection<int>? cacheIds) =>
        cacheIds is { Count: > 0 } ? $" on cache {string.Join(", ", cacheIds)}" : "";

    /// <summary>Attach a backing, or return the attached one when its settings are the ones asked for.</summary>
    public static void Add(PCacheClient client, ICommandSink sink, AddBackingRequest request)
    {
        if (!ClientCall.TryRun(client, sink, request.Path, c => client.ListBackingsAsync(null, c), out var backings)) return;
        // The daemon runs on this machine (a Unix socket): say what is wrong with the path in the
        // terms of this command, before the daemon words it as an I/O error.
        if (Directory.Exists(request.Path))
        {
            sink.WriteError(ErrorTranslator.Module(ErrorTranslator.NotABackingDeviceId,
                $"{request.Path} is a directory; a backing is a block device or a regular file.", request.Path));
            return;
        }
        if (!File.Exists(request.Path))
        {
            string? dir = Path.GetDirectoryName(request.Path);
            string why = dir is not null && !Directory.Exists(dir) ? $"its directory {dir} does not exist" : "it does not exist";
            sink.WriteError(ErrorTranslator.Module(ErrorTranslator.PathNotFoundId,
                $"Cannot attach {request.Path} as a backing: {why}.", request.Path,
                "Give the path of an existing block device or file; to try PCache on a file, create a sparse one first (truncate -s 4G <path>)."));
            return;
        }
        var plan = AddBackingPlan.For(request, backings);
        switch (plan.Decision)
        {
            case AddBackingDecision.Existing:
                sink.WriteVerbose($"{request.Path} is already attached as backing {plan.Existing!.BackingId} with these settings; nothing to do");
                sink.WriteObject(Backing.From(plan.Existing, client.Socket.Path));
                return;
            case AddBackingDecision.Conflict:
                var existing = Backing.From(plan.Existing!, client.Socket.Path);
                sink.WriteError(ErrorTranslator.Module(ErrorTranslator.BackingConflictId,
                    $"{request.Path} is already attached as backing {existing.BackingId}, but {string.Join("; ", plan.Differences)}.",
                    existing,
                    $"Remove it first (Remove-PCacheBacking -BackingId {existing.BackingId}) to add it again with other settings; GcPercent, Mode, SequentialCutoff, ReadAdmission and the Writeback* settings can be changed in place with Set-PCacheBacking."));
                return;
        }
        string action = plan.Existing is { } recorded
            ? $"Re-attach backing {recorded.BackingId} (now {recorded.State}) to cache {recorded.CacheId}"
            : $"Cache it in cache {request.CacheId} with {ByteSize.Format(request.CacheSize)} of cache space and export it over NBD";
        if (!sink.ShouldProcess(request.Path, action)) return;
        var args = new BackingStartArgs
        {
            Path = request.Path,
            CacheSize = request.CacheSize,
            CacheId = request.CacheId,
            GcPercent = request.GcPercent,
            Queues = request.Queues,
            PersistOnWrite = request.PersistOnWrite ?? false,
            WritebackWatermark = request.WritebackWatermark,
            WritebackMaxAge = request.WritebackMaxAge,
            WritebackRate = request.WritebackRate,
            Mode = request.Mode?.ToLowerInvariant(),
            SequentialCutoff = request.SequentialCutoff,
            ReadAdmission = request.ReadAdmission,
        };
        if (ClientCall.TryRun(client, sink, request.Path, c => client.StartBackingAsync(args, c), out var started))
            sink.WriteObject(Backing.From(started, client.Socket.Path));
    }

    /// <summary>Change a running backing's settings; a setting that already has the value asked for is left alone.</summary>
    public static void Set(PCacheClient client, ICommandSink sink, int backingId, int gcPercent, bool passThru) =>
        Set(client, sink, backingId, new BackingSettings(GcPercent: gcPercent), wait: false, passThru);

    /// <summary>Change the given settings of a running backing; those it already has are left alone. With
    /// <paramref name="wait"/>, follow the write-back a switch away from write-back started, as Sync-PCacheBacking does.</summary>
    public static void Set(PCacheClient client, ICommandSink sink, int backingId, BackingSettings settings, bool wait, bool passThru)
    {
        if (Find(client, sink, backingId) is not { } backing) return;
        var changes = settings.ChangesFrom(backing);
        if (changes.Count == 0)
        {
            sink.WriteVerbose($"backing {backingId} already has {settings.Given()}; nothing to do");
        }
        else
        {
            if (!sink.ShouldProcess(Describe(backing), "Set " + string.Join("; ", changes))) return;
            var args = settings.ToArgs(backing);
            if (!ClientCall.TryRun(client, sink, backingId, c => client.SetBackingAsync(args, c), out backing)) return;
        }
        if (wait && !BackingSettings.KeepsDirtyData(backing.Mode) && backing.DirtyBytes > 0)
            SyncBacking.Run(client, sink, backingId, 0, passThru, ask: false);
        else if (passThru)
            sink.WriteObject(Backing.From(backing, client.Socket.Path));
    }

    /// <summary>The backing with this id, or null after a not-found error.</summary>
    internal static BackingEntry? Find(PCacheClient client, ICommandSink sink, int backingId)
    {
        if (!ClientCall.TryRun(client, sink, backingId, c => client.ListBackingsAsync(null, c), out var all)) return null;
        var backing = all.FirstOrDefault(b => b.BackingId == backingId);
        if (backing is null)
            sink.WriteError(ErrorTranslator.Module(ErrorTranslator.BackingNotFoundId, $"No backing {backingId} on the daemon at {client.Socket.Path}.", backingId));
        return backing;
    }

    internal static string Describe(BackingEntry b) => $"backing {b.BackingId} ({b.BackingPath})";
}

using PCache.Client;
using PCache.Core;

namespace PCache.Module.Tests;

/// <summary>
/// A real `pcache daemon` in a sandbox, started the way Start-PCacheDaemon starts one (through
/// <see cref="DaemonLauncher"/>) and stopped with SIGTERM the way Stop-PCacheDaemon does.
/// xunit shares one per test class; tests that need a clean slate start their own cache on it.
/// </summary>
public sealed class TestDaemon : IDisposable
{
    private readonly Sandbox _box = new("pcm");

    public TestDaemon()
    {
        Info = DaemonLauncher.Start(PcacheBinary.Path, _box.SocketPath, [], TimeSpan.FromSeconds(60));
    }

    public DaemonInfo Info { get; }

    public string SocketPath => _box.SocketPath;

    internal Sandbox Box => _box;

    public PCacheClient Client() => new(new SocketLocation(SocketPath, SocketLocation.FromParameter));

    /// <summary>A fresh cache of its own for one test: an emulated pmem file in /dev/shm.</summary>
    public Cache NewCache(long size = 64L << 20)
    {
        var sink = new RecordingSink();
        CacheOperations.Start(Client(), sink, new CacheStartRequest(_box.PmemPath(), size));
        Assert.True(sink.Errors.Count == 0, $"{string.Join("; ", sink.Errors)}\n--- daemon log:\n{Log()}");
        return sink.Single<Cache>();
    }

    /// <summary>A fresh sparse backing file attached to <paramref name="cache"/>.</summary>
    public Backing NewBacking(Cache cache, long size = 64L << 20, long cacheSize = 16L << 20, string? path = null)
    {
        path ??= _box.SparseFile($"backing-{Guid.NewGuid().ToString("N")[..8]}.img", size);
        var sink = new RecordingSink();
        BackingOperations.Add(Client(), sink, new AddBackingRequest(path, cacheSize, cache.CacheId));
        Assert.True(sink.Errors.Count == 0, $"{string.Join("; ", sink.Errors)}\n--- daemon log:\n{Log()}");
        return sink.Single<Backing>();
    }

    /// <summary>The daemon's log so far, for failure messages.</summary>
    public string Log() => File.Exists(Info.LogPath) ? File.ReadAllText(Info.LogPath!) : "";

    public string SparseFile(long size) => _box.SparseFile($"file-{Guid.NewGuid().ToString("N")[..8]}.img", size);

    public void Dispose()
    {
        try
        {
            DaemonLauncher.Stop(Info.Pid, TimeSpan.FromSeconds(60));
        }
        finally
        {
            _box.Dispose();
        }
    }
}

namespace PCache.Nbd.Tests;

/// <summary>
/// The real `pcache daemon` serving cached backings over NBD, set up the way a user does: a cache
/// device on a file in /dev/shm (the stand-in for pmem), then backing-start on backing files in the
/// test's own directory, on its own sockets, so tests run in parallel and can stop, kill and
/// restart the daemon (a restart runs cache-start again, which replays the log and re-attaches).
/// </summary>
internal sealed class DaemonExport : IDisposable
{
    private const long PmemSize = 160L << 20, SegmentSize = 1L << 20;
    private readonly Sandbox _box = new("pcache-nbd");
    private readonly bool _tcp;
    private TestDaemon? _daemon;

    public DaemonExport(long size = 64L << 20, bool tcp = false, long cacheSize = 48L << 20, int backings = 1)
    {
        _tcp = tcp;
        PmemFile = _box.PmemPath();
        Start();
        for (int i = 0; i < backings; i++)
        {
            string file = _box.SparseFile($"backing{i}.img", size);
            Daemon.Json("backing-start", "--path", file, "--cache-size", cacheSize.ToString());
            BackingFiles.Add(file);
        }
    }

    public string Directory => _box.Dir;

    public List<string> BackingFiles { get; } = [];

    public string BackingFile => BackingFiles[0];

    public string PmemFile { get; }

    public string SocketPath => _box.NbdSocketPath;

    public string Uri => _box.Uri(0);

    public TestDaemon Daemon => _daemon ?? throw new InvalidOperationException("the daemon is not running");

    /// <summary>The export's nbd://HOST:PORT/NAME URI, when started with <c>tcp</c>.</summary>
    public string? TcpUri => Daemon.Backings()[0].NbdTcp;

    /// <summary>Start the daemon and the cache device (created and formatted the first time, replayed after).</summary>
    public void Start()
    {
        _daemon = new TestDaemon(_box, _tcp ? ["--nbd-listen", "127.0.0.1:0"] : []);
        Daemon.Json("cache-start", "--path", PmemFile, "--size", PmemSize.ToString(), "--segment-size", SegmentSize.ToString());
    }

    /// <summary>SIGTERM and wait: the daemon stops gracefully and must exit 0.</summary>
    public void Stop()
    {
        if (_daemon is null) return;
        Assert.Equal(0, _daemon.Terminate());
        _daemon.Dispose();
        _daemon = null;
    }

    /// <summary>SIGKILL: no chance to clean up (the socket files stay behind, as after a crash).</summary>
    public void Kill()
    {
        if (_daemon is null) return;
        _daemon.Kill();
        _daemon.Dispose();
        _daemon = null;
    }

    /// <summary>backing-stop: every dirty byte written back to the backing file, which is then complete on its own.</summary>
    public void Detach(int backingId = 0) => Daemon.Json("backing-stop", "--backing-id", backingId.ToString());

    public void Dispose()
    {
        Kill();
        _box.Dispose();
    }
}

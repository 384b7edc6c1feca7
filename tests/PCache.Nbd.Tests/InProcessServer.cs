namespace PCache.Nbd.Tests;

/// <summary>An <see cref="NbdServer"/> in the test process over memory exports, on a private socket.</summary>
internal sealed class InProcessServer : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("pcache-nbd-inproc-").FullName;

    public InProcessServer(NbdServerOptions? options = null, params MemoryExport[] exports)
    {
        Exports = exports.Length > 0 ? exports : [new MemoryExport("pcache0", 16 << 20)];
        SocketPath = Path.Combine(directory, "nbd.sock");
        var o = options ?? new NbdServerOptions();
        Server = new NbdServer(new ExportCatalog(Exports), new NbdServerOptions
        {
            UnixSocketPath = SocketPath,
            MaxOptionsPerConnection = o.MaxOptionsPerConnection,
            MaxOptionLength = o.MaxOptionLength,
            ShutdownGracePeriod = o.ShutdownGracePeriod,
            ShutdownTimeout = o.ShutdownTimeout,
            MaxDrainBytes = o.MaxDrainBytes,
            HandshakeTimeout = o.HandshakeTimeout,
        });
        Server.Start();
    }

    public NbdServer Server { get; }
    public MemoryExport[] Exports { get; }
    public MemoryExport Export => Exports[0];
    public string SocketPath { get; }

    public RawClient Connect() => new(SocketPath);

    public void Dispose()
    {
        Export.Hold.Set();
        Server.Dispose();
        try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
    }
}

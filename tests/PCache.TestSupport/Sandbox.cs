namespace PCache.TestSupport;

/// <summary>
/// A test's private files: a short directory under /tmp (Unix socket paths must stay under 108
/// bytes) for sockets and backing files, and pmem stand-ins in /dev/shm. Everything goes on
/// dispose. <paramref name="prefix"/> names them, so a project's leftovers are recognisable.
/// </summary>
public sealed class Sandbox(string prefix = "pcache-test") : IDisposable
{
    private readonly List<string> _files = [];

    public string Dir { get; } = Directory.CreateDirectory(Path.Combine("/tmp", $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}")).FullName;

    public string SocketPath => Path.Combine(Dir, "pcache.sock");

    public string NbdSocketPath => Path.Combine(Dir, "nbd.sock");

    public string Uri(int backingId = 0) => $"nbd+unix:///pcache{backingId}?socket={NbdSocketPath}";

    /// <summary>A path in /dev/shm for an emulated pmem device (not created: cache-start --size creates it).</summary>
    public string PmemPath()
    {
        string path = $"/dev/shm/{prefix}-{Guid.NewGuid().ToString("N")[..12]}.pmem";
        lock (_files) _files.Add(path);
        return path;
    }

    /// <summary>A sparse file of <paramref name="size"/> bytes.</summary>
    public string SparseFile(string name, long size)
    {
        string path = Path.Combine(Dir, name);
        using var f = new FileStream(path, FileMode.CreateNew);
        f.SetLength(size);
        return path;
    }

    public void Dispose()
    {
        lock (_files)
            foreach (var f in _files)
            {
                try { File.Delete(f); } catch (IOException) { }
            }
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

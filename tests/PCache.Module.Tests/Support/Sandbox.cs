namespace PCache.Module.Tests;

/// <summary>
/// A test's private files: a short directory under /tmp (Unix socket paths must stay under 108
/// bytes) and pmem stand-ins in /dev/shm, all removed on dispose.
/// </summary>
internal sealed class Sandbox : IDisposable
{
    private readonly List<string> _files = [];

    public Sandbox()
    {
        Dir = Directory.CreateDirectory(Path.Combine("/tmp", $"pcm-{Guid.NewGuid().ToString("N")[..10]}")).FullName;
    }

    public string Dir { get; }

    public string SocketPath => Path.Combine(Dir, "pcache.sock");

    /// <summary>A not yet existing path in /dev/shm for an emulated pmem device.</summary>
    public string PmemPath()
    {
        string path = $"/dev/shm/pcm-{Guid.NewGuid().ToString("N")[..12]}.pmem";
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

namespace PCache.Cli.Tests;

/// <summary>
/// A backing "file" whose writes can be made to fail at will: an nbdkit memory disk behind the
/// error filter (writes, zeroes and trims fail while a trigger file exists), shown as a
/// regular file by nbdfuse. With failures on, write-back cannot clean anything, so dirty data
/// stays in the cache for as long as a test needs — no timing involved.
/// </summary>
internal sealed class FailingBacking : IDisposable
{
    private static readonly string[] Ops = ["pwrite", "zero", "trim"];
    private readonly FuseDisk _disk;
    private readonly string _trigger;

    public FailingBacking(Sandbox box, string size = "64M")
    {
        _trigger = Path.Combine(box.Dir, "fail-writes");
        _disk = new FuseDisk(box, "fuse",
            ["--filter=error", "memory", size, "error=EIO", .. Ops.Select(o => $"error-{o}-rate=100%"), .. Ops.Select(o => $"error-{o}-file={_trigger}")]);
    }

    public string MountDir => _disk.MountDir;

    /// <summary>The regular file the daemon uses as its backing device.</summary>
    public string DiskPath => _disk.DiskPath;

    public bool Failing
    {
        set
        {
            if (value) File.WriteAllText(_trigger, "");
            else File.Delete(_trigger);
        }
    }

    /// <summary>Unmount and stop nbdkit: the mount directory is an ordinary empty directory again.</summary>
    public void Unmount() => _disk.Unmount();

    public void Dispose() => _disk.Dispose();
}

using System.Diagnostics;

namespace PCache.Cli.Tests;

/// <summary>
/// A backing "file" whose writes can be made to fail at will: an nbdkit memory disk behind the
/// error filter (writes, zeroes and trims fail while a trigger file exists), shown as a
/// regular file by nbdfuse. With failures on, write-back cannot clean anything, so dirty data
/// stays in the cache for as long as a test needs — no timing involved.
/// </summary>
internal sealed class FailingBacking : IDisposable
{
    private readonly Process _nbdkit;
    private Process? _nbdfuse;
    private readonly string _trigger;

    public FailingBacking(Sandbox box, string size = "64M")
    {
        foreach (var tool in new[] { "nbdkit", "nbdfuse", "fusermount3" }) Tools.Require(tool);
        MountDir = Path.Combine(box.Dir, "fuse");
        Directory.CreateDirectory(MountDir);
        DiskPath = Path.Combine(MountDir, "disk");
        _trigger = Path.Combine(box.Dir, "fail-writes");
        string socket = Path.Combine(box.Dir, "kit.sock");
        var ops = new[] { "pwrite", "zero", "trim" };
        _nbdkit = Process.Start(Tools.StartInfo("nbdkit",
            ["-f", "-U", socket, "--filter=error", "memory", size, "error=EIO",
             .. ops.Select(o => $"error-{o}-rate=100%"), .. ops.Select(o => $"error-{o}-file={_trigger}")]))!;
        Tools.WaitUntilUp(() => File.Exists(socket), _nbdkit, "nbdkit");
        _nbdfuse = Process.Start(Tools.StartInfo("nbdfuse", [DiskPath, $"nbd+unix:///?socket={socket}"]))!;
        Tools.WaitUntilUp(() => File.Exists(DiskPath), _nbdfuse, "nbdfuse");
    }

    public string MountDir { get; }

    /// <summary>The regular file the daemon uses as its backing device.</summary>
    public string DiskPath { get; }

    public bool Failing
    {
        set
        {
            if (value) File.WriteAllText(_trigger, "");
            else File.Delete(_trigger);
        }
    }

    /// <summary>Unmount and stop nbdkit: the mount directory is an ordinary empty directory again.</summary>
    public void Unmount()
    {
        if (_nbdfuse is null) return;
        var r = Tools.Run("fusermount3", "-u", MountDir);
        Assert.True(r.ExitCode == 0, $"fusermount3 -u failed: {r}");
        if (!_nbdfuse.WaitForExit(TimeSpan.FromSeconds(30))) _nbdfuse.Kill();
        _nbdfuse = null;
        if (!_nbdkit.HasExited) _nbdkit.Kill();
        _nbdkit.WaitForExit();
    }

    public void Dispose()
    {
        try
        {
            if (_nbdfuse is not null)
            {
                Tools.Run("fusermount3", "-u", "-z", MountDir);
                if (!_nbdfuse.WaitForExit(TimeSpan.FromSeconds(10))) _nbdfuse.Kill();
            }
        }
        finally
        {
            if (!_nbdkit.HasExited) _nbdkit.Kill();
        }
    }
}

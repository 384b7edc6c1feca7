using System.Diagnostics;

namespace PCache.Cli.Tests;

/// <summary>
/// An nbdkit disk (its plugin and filters chosen by the caller) shown to the daemon as a regular
/// file by nbdfuse: the set-up <see cref="FaultyBacking"/> and <see cref="FailingBacking"/> share.
/// </summary>
internal sealed class FuseDisk : IDisposable
{
    private readonly Process _nbdkit;
    private Process? _nbdfuse;

    /// <param name="name">Names the mount directory and nbdkit's socket inside the sandbox.</param>
    /// <param name="nbdkitArgs">Filters, plugin and parameters; <paramref name="ready"/> says when nbdkit is up beyond its socket.</param>
    public FuseDisk(Sandbox box, string name, string[] nbdkitArgs, Func<bool>? ready = null)
    {
        foreach (var tool in new[] { "nbdkit", "nbdfuse", "fusermount3" }) Tools.Require(tool);
        MountDir = Path.Combine(box.Dir, name);
        Directory.CreateDirectory(MountDir);
        DiskPath = Path.Combine(MountDir, "disk");
        string socket = Path.Combine(box.Dir, $"{name}.sock");
        _nbdkit = Process.Start(Tools.StartInfo("nbdkit", ["-f", "-U", socket, .. nbdkitArgs]))!;
        Tools.WaitUntilUp(() => File.Exists(socket) && (ready is null || ready()), _nbdkit, "nbdkit");
        _nbdfuse = Process.Start(Tools.StartInfo("nbdfuse", [DiskPath, $"nbd+unix:///?socket={socket}"]))!;
        Tools.WaitUntilUp(() => File.Exists(DiskPath), _nbdfuse, "nbdfuse");
    }

    public string MountDir { get; }

    /// <summary>The regular file the daemon uses as its backing device.</summary>
    public string DiskPath { get; }

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
            _nbdkit.WaitForExit();
        }
    }
}

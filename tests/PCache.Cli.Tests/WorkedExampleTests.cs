using System.Diagnostics;

namespace PCache.Cli.Tests;

/// <summary>
/// docs/daemon.md's worked example, from cache-start to a mounted ext4 filesystem through
/// nbdfuse and a loop device, surviving a daemon restart; plus the shipped config example and
/// NBD over TCP.
/// </summary>
public sealed class WorkedExampleTests
{
    [Fact]
    public void CacheStartToAMountedFilesystemThroughNbdfuse()
    {
        foreach (var tool in new[] { "nbdfuse", "fusermount3", "losetup", "mkfs.ext4", "mount", "umount", "e2fsck" }) Tools.Require(tool);
        using var box = new Sandbox();
        string pmem = box.PmemPath();
        string backing = box.SparseFile("vdh.img", 1L << 30);
        string fuse = Path.Combine(box.Dir, "fuse"), mnt = Path.Combine(box.Dir, "mnt");
        Directory.CreateDirectory(fuse);
        Directory.CreateDirectory(mnt);
        var content = new byte[3 << 20];
        new Random(9).NextBytes(content);

        using (var daemon = new TestDaemon(box))
        {
            daemon.Json("cache-start", "--path", pmem, "--size", "1G", "--format", "--force");
            daemon.Json("backing-start", "--path", backing, "--cache-size", "256M");
            using (new Mounted(box.Uri(), fuse, mnt, format: true))
                File.WriteAllBytes(Path.Combine(mnt, "hello.bin"), content);
            Assert.Equal(0, daemon.Terminate());
        }
        using (var daemon = new TestDaemon(box))
        {
            daemon.Json("cache-start", "--path", pmem);
            using (new Mounted(box.Uri(), fuse, mnt, format: false))
                Assert.Equal(content, File.ReadAllBytes(Path.Combine(mnt, "hello.bin")));
            Assert.True(daemon.Cli("backing-stop", "--backing-id", "0").ExitCode == 0);
        }
        var fsck = Tools.Run("e2fsck", "-f", "-n", backing); // the backing file alone is a clean filesystem
        Assert.True(fsck.ExitCode == 0, fsck.ToString());
    }

    [Fact]
    public void TheShippedConfigExampleParsesAndAMissingDeviceDoesNotStopTheDaemon()
    {
        using var box = new Sandbox();
        string example = Path.Combine(Repo.Root, "packaging", "pcache.conf.example");
        using var daemon = new TestDaemon(box, "--nbd-socket", box.NbdSocketPath, "--config", example);
        daemon.WaitForLog("config: cache /dev/pmem0 not started");
        Assert.Equal(0, daemon.Json("cache-list").GetArrayLength());
    }

    [Fact]
    public void NbdOverTcpWhenAsked()
    {
        Tools.Require("nbdinfo");
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box, "--nbd-listen", "127.0.0.1:0");
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "256M");
        daemon.Json("backing-start", "--path", box.SparseFile("b.img", 64 << 20), "--cache-size", SeedExampleTests.SmallCache);
        string tcp = daemon.Backings().Single().NbdTcp!;
        Assert.StartsWith("nbd://127.0.0.1:", tcp);
        var info = Tools.Run("nbdinfo", tcp);
        Assert.True(info.ExitCode == 0, info.ToString());
        Assert.Contains("export-size: 67108864", info.Stdout);
    }

    /// <summary>nbdfuse → losetup → (mkfs.ext4) → mount, undone in reverse order.</summary>
    private sealed class Mounted : IDisposable
    {
        private readonly Process _nbdfuse;
        private readonly string _fuse, _mnt;
        private readonly string? _loop;
        private readonly bool _mounted;

        public Mounted(string uri, string fuse, string mnt, bool format)
        {
            _fuse = fuse;
            _mnt = mnt;
            string file = Path.Combine(fuse, "pcache0");
            _nbdfuse = Process.Start(Tools.StartInfo("nbdfuse", [file, uri]))!;
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!File.Exists(file))
            {
                if (_nbdfuse.HasExited) throw new InvalidOperationException($"nbdfuse exited: {_nbdfuse.StandardError.ReadToEnd()}");
                if (DateTime.UtcNow > deadline) throw new TimeoutException("nbdfuse did not come up");
                Thread.Sleep(50);
            }
            _loop = Tools.Check("losetup", "-f", "--show", file).Trim();
            if (format) Tools.Check("mkfs.ext4", "-q", "-F", _loop);
            Tools.Check("mount", _loop, mnt);
            _mounted = true;
        }

        public void Dispose()
        {
            if (_mounted) Tools.Check("umount", _mnt);
            if (_loop is not null) Tools.Check("losetup", "-d", _loop);
            Tools.Run("fusermount3", "-u", _fuse);
            if (!_nbdfuse.WaitForExit(TimeSpan.FromSeconds(30))) _nbdfuse.Kill();
        }
    }
}

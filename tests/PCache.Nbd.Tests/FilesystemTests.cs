using System.Diagnostics;
using System.Security.Cryptography;

namespace PCache.Nbd.Tests;

/// <summary>ext4 on the export (nbdfuse → loop device), surviving a daemon restart; after backing-stop, fsck accepts the backing file.</summary>
public sealed class FilesystemTests
{
    [Fact]
    public void Ext4OnTheExportSurvivesARestart()
    {
        foreach (var tool in new[] { "nbdfuse", "fusermount3", "losetup", "mkfs.ext4", "e2fsck", "mount", "umount" })
            Tools.Require(tool);
        using var host = new DaemonExport(size: 128L << 20);
        var fuseDir = Path.Combine(host.Directory, "fuse");
        var mountDir = Path.Combine(host.Directory, "fs");
        Directory.CreateDirectory(fuseDir);
        Directory.CreateDirectory(mountDir);

        var expected = new Dictionary<string, string>();
        using (var disk = new MountedExport(host, fuseDir, mountDir, format: true))
        {
            var rng = new Random(7);
            for (int i = 0; i < 24; i++)
            {
                var content = new byte[rng.Next(1, 2 << 20)];
                rng.NextBytes(content);
                var name = $"file{i:D2}.bin";
                File.WriteAllBytes(Path.Combine(mountDir, name), content);
                expected[name] = Convert.ToHexString(SHA256.HashData(content));
            }
        }

        host.Stop();
        host.Start();

        using (var disk = new MountedExport(host, fuseDir, mountDir, format: false))
        {
            foreach (var (name, hash) in expected)
                Assert.Equal(hash, Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(mountDir, name)))));
        }

        // backing-stop writes every dirty byte back, so the backing file alone holds the filesystem.
        host.Detach();
        host.Stop();
        var fsck = Tools.Run("e2fsck", "-f", "-n", host.BackingFile);
        Assert.True(fsck.ExitCode == 0, fsck.ToString());
    }

    /// <summary>nbdfuse + losetup + mount, torn down in reverse order even when a step fails.</summary>
    private sealed class MountedExport : IDisposable
    {
        private readonly string fuseDir;
        private readonly string mountDir;
        private readonly Process nbdfuse;
        private string? loop;
        private bool mounted;

        public MountedExport(DaemonExport host, string fuseDir, string mountDir, bool format)
        {
            this.fuseDir = fuseDir;
            this.mountDir = mountDir;
            var pidFile = Path.Combine(host.Directory, "nbdfuse.pid");
            File.Delete(pidFile);
            var start = new ProcessStartInfo(Tools.Require("nbdfuse")) { UseShellExecute = false, RedirectStandardError = true };
            foreach (var arg in new[] { "-P", pidFile, Path.Combine(fuseDir, "disk"), host.Uri })
                start.ArgumentList.Add(arg);
            nbdfuse = Process.Start(start)!;
            try
            {
                var deadline = DateTime.UtcNow.AddSeconds(30);
                while (!File.Exists(pidFile) || !File.Exists(Path.Combine(fuseDir, "disk")))
                {
                    if (nbdfuse.HasExited)
                        throw new InvalidOperationException($"nbdfuse exited: {nbdfuse.StandardError.ReadToEnd()}");
                    if (DateTime.UtcNow > deadline)
                        throw new TimeoutException("nbdfuse did not come up");
                    Thread.Sleep(50);
                }
                loop = Tools.Check("losetup", "-f", "--show", Path.Combine(fuseDir, "disk")).Trim();
                if (format)
                    Tools.Check("mkfs.ext4", "-q", "-F", loop);
                Tools.Check("mount", loop, mountDir);
                mounted = true;
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            var errors = new List<string>();
            if (mounted)
            {
                var umount = Tools.Run("umount", mountDir);
                if (umount.ExitCode != 0)
                {
                    errors.Add("umount: " + umount);
                    Tools.Run("umount", "-l", mountDir);
                }
                mounted = false;
            }
            if (loop is not null)
            {
                var detach = Tools.Run("losetup", "-d", loop);
                if (detach.ExitCode != 0)
                    errors.Add("losetup -d: " + detach);
                loop = null;
            }
            if (!nbdfuse.HasExited)
            {
                Tools.Run("fusermount3", "-u", fuseDir);
                if (!nbdfuse.WaitForExit(30_000))
                {
                    nbdfuse.Kill();
                    Tools.Run("fusermount3", "-u", "-z", fuseDir);
                    errors.Add("nbdfuse did not exit after fusermount3 -u");
                }
            }
            nbdfuse.Dispose();
            Assert.True(errors.Count == 0, string.Join("\n", errors));
        }
    }
}

using System.Diagnostics;

namespace PCache.Remote.Tests;

/// <summary>
/// Ceph RBD images as backings (rbd:pool/image:conf=PATH), through librbd inside the native
/// daemon, against a real single-host cluster started once for the class.
/// </summary>
public sealed class RbdBackingTests(CephCluster ceph) : IClassFixture<CephCluster>
{
    private const string CacheSize = "32M";

    [Fact]
    public void FioVerifiesOverRbd_BackingStopDrains_AndTheImageHoldsWhatTheExportShowed()
    {
        Tools.Require("fio");
        Tools.Require("nbdcopy");
        ceph.CreateImage("fio", "64M");
        using var box = new Sandbox();
        using var daemon = NbdBackingTests.StartDaemon(box);
        var started = daemon.Json("backing-start", "--path", ceph.Spec("fio"), "--cache-size", CacheSize);
        Assert.Equal(64L << 20, started.GetProperty("size").GetInt64());

        var fio = Tools.Run("fio", ["--name=v", "--ioengine=nbd", $"--uri={box.Uri()}", "--rw=randwrite", "--bs=4k", "--size=24m",
            "--iodepth=16", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--randseed=11"]);
        Assert.True(fio.ExitCode == 0 && fio.Stdout.Contains("err= 0"), $"fio through PCache over RBD: {fio}");
        string seen = Path.Combine(box.Dir, "seen.img");
        Tools.Check("nbdcopy", box.Uri(), seen);

        // Another cache cannot take the image while this one holds its exclusive lock.
        using (var otherBox = new Sandbox())
        using (var other = NbdBackingTests.StartDaemon(otherBox))
        {
            var r = other.Cli("backing-start", "--path", ceph.Spec("fio"), "--cache-size", CacheSize);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("exclusive lock", r.Stderr);
        }

        var stop = daemon.Cli("backing-stop", "--backing-id", "0");
        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.True(File.ReadAllBytes(seen).AsSpan().SequenceEqual(ceph.Export("fio")), "the image differs from what the export showed");
    }

    [Fact]
    public void SigkillDuringWriteBack_LeavesAFlushPrefixOnTheImage_AndRestartFinishesIt()
    {
        const int Epochs = 150, Block = 64 << 10;
        ceph.CreateImage("crash", "32M");
        using var box = new Sandbox();
        string pmem = box.PmemPath();
        using (var daemon = NbdBackingTests.StartDaemon(box, pmem))
        {
            daemon.Json("backing-start", "--path", ceph.Spec("crash"), "--cache-size", CacheSize);
            // Epoch k writes block k full of byte k, then flushes.
            var w = Tools.Nbdsh(box.Uri(), $$"""
                for k in range(1, {{Epochs + 1}}):
                    h.pwrite(bytes([k]) * {{Block}}, k * {{Block}})
                    h.flush()
                """);
            Assert.True(w.ExitCode == 0, w.ToString());
            daemon.Kill();
        }

        int complete = PrefixLength(ceph.Export("crash"), Epochs, Block);

        using (var daemon = NbdBackingTests.StartDaemon(box, format: false))
        {
            var start = daemon.Json("cache-start", "--path", pmem);
            var b = Assert.Single(daemon.Backings());
            Assert.True(b.State == "running", $"backing {b.State}: {b.Error}\n{daemon.Log}");
            var stop = daemon.Cli("backing-stop", "--backing-id", "0");
            Assert.True(stop.ExitCode == 0, stop.ToString());
        }
        Assert.Equal(Epochs, PrefixLength(ceph.Export("crash"), Epochs, Block));
        Assert.True(complete <= Epochs, $"{complete} epochs were on the image at the kill");
    }

    /// <summary>
    /// How many epochs the image holds completely; throws unless it is a flush prefix: epochs
    /// 1..j complete, epoch j+1 possibly in part (each sector old or new), nothing of later ones.
    /// </summary>
    private static int PrefixLength(byte[] image, int epochs, int block)
    {
        int j = 0;
        while (j < epochs && image.AsSpan((j + 1) * block, block).IndexOfAnyExcept((byte)(j + 1)) < 0) j++;
        for (int k = j + 1; k <= epochs; k++)
        {
            var span = image.AsSpan(k * block, block);
            for (int s = 0; s < block; s += 512)
            {
                var sector = span.Slice(s, 512);
                bool zero = sector.IndexOfAnyExcept((byte)0) < 0;
                bool written = sector.IndexOfAnyExcept((byte)k) < 0;
                Assert.True(zero || (k == j + 1 && written),
                    $"not a flush prefix: epochs 1..{j} are complete, but epoch {k} has data at sector {s / 512} of its block");
            }
        }
        return j;
    }

    [Fact]
    public void BadRbdSpecs_AndImagesThatAreNotThere_GetClearErrors()
    {
        using var box = new Sandbox();
        using var daemon = NbdBackingTests.StartDaemon(box);
        var r = daemon.Cli("backing-start", "--path", "rbd:just-a-name", "--cache-size", CacheSize);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("rbd:pool/image", r.Stderr);
        r = daemon.Cli("backing-start", "--path", ceph.Spec("nonexistent"), "--cache-size", CacheSize);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("cannot open image 'rbd/nonexistent'", r.Stderr);
        r = daemon.Cli("backing-start", "--path", "rbd:nopool/x:conf=" + ceph.Conf, "--cache-size", CacheSize);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("cannot open pool 'nopool'", r.Stderr);
        Assert.Empty(daemon.Backings());
    }

    /// <summary>
    /// A host without librbd, stood in for by a private mount namespace in which librados and
    /// librbd are bind-mounted over with /dev/null: the daemon starts, files work, and an rbd:
    /// backing is refused with a message naming the package.
    /// </summary>
    [Fact]
    public void HostWithoutLibrbd_StandIn_RbdIsAClearErrorAndFilesStillWork()
    {
        Tools.Require("unshare");
        using var box = new Sandbox();
        string rados = Path.GetFullPath(new FileInfo("/usr/lib/x86_64-linux-gnu/librados.so.2").ResolveLinkTarget(true)?.FullName ?? "/usr/lib/x86_64-linux-gnu/librados.so.2");
        string rbd = Path.GetFullPath(new FileInfo("/usr/lib/x86_64-linux-gnu/librbd.so.1").ResolveLinkTarget(true)?.FullName ?? "/usr/lib/x86_64-linux-gnu/librbd.so.1");
        string script = $"mount --bind /dev/null '{rados}' && mount --bind /dev/null '{rbd}' && exec '{PcacheBinary.Path}' daemon --socket '{box.SocketPath}' --nbd-socket '{box.NbdSocketPath}'";
        using var process = Process.Start(Tools.StartInfo("unshare", ["-m", "sh", "-c", script]))!;
        var log = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            Wait.Until(() => File.Exists(box.SocketPath) || process.HasExited, up => up, "the daemon's control socket", 60);
            if (process.HasExited)
            {
                process.WaitForExit();
                lock (log) Assert.Fail($"the daemon exited with code {process.ExitCode}: {log}");
            }
            var env = new Dictionary<string, string?> { ["PCACHE_SOCKET"] = box.SocketPath };
            Result Cli(params string[] args) => Tools.Run(PcacheBinary.Path, args, env);

            Assert.Equal(0, Cli("cache-start", "--path", box.PmemPath(), "--size", "256M", "--format", "--force").ExitCode);
            var r = Cli("backing-start", "--path", ceph.Spec("any"), "--cache-size", CacheSize);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("not installed", r.Stderr);
            Assert.Contains("librbd1", r.Stderr);
            var file = Cli("backing-start", "--path", box.SparseFile("local.img", 16 << 20), "--cache-size", CacheSize);
            Assert.True(file.ExitCode == 0, file.ToString());
            NbdBackingTests.QemuIo(box.Uri(), "write -P 0x61 0 64k", "read -P 0x61 0 64k");
        }
        finally
        {
            if (!process.HasExited) process.Kill();
            process.WaitForExit();
        }
    }
}

namespace PCache.Remote.Tests;

/// <summary>
/// Remote NBD volumes as backings (nbd:// and nbd+unix:// URIs), served by real nbdkit and
/// qemu-nbd, driven through the real daemon's export by qemu-io and fio.
/// </summary>
public sealed class NbdBackingTests
{
    internal const string CacheSize = "32M";

    internal static TestDaemon StartDaemon(Sandbox box, string? pmem = null, bool format = true)
    {
        var daemon = new TestDaemon(box);
        if (format) daemon.Json("cache-start", "--path", pmem ?? box.PmemPath(), "--size", "256M", "--format", "--force");
        return daemon;
    }

    internal static void QemuIo(string uri, params string[] commands)
    {
        var r = Tools.Run("qemu-io", ["-f", "raw", uri, .. commands.SelectMany(c => new[] { "-c", c })]);
        Assert.True(r.ExitCode == 0 && !r.Stdout.Contains("failed"), $"qemu-io {string.Join(" ; ", commands)} on {uri}: {r}");
    }

    [Fact]
    public void NbdkitMemoryBacking_DataRoundTripsAndBackingStopDrainsToTheServer()
    {
        using var box = new Sandbox();
        using var kit = RemoteServer.Nbdkit(box, "kit", "memory", "64M");
        using var daemon = StartDaemon(box);
        var started = daemon.Json("backing-start", "--path", kit.Uri(), "--cache-size", CacheSize);
        Assert.Equal(kit.Uri(), started.GetProperty("backing_path").GetString());
        Assert.Equal(64L << 20, started.GetProperty("size").GetInt64());

        QemuIo(kit.Uri(), "write -P 0x77 12M 1M"); // data already on the volume, zeroed through the cache below
        QemuIo(box.Uri(), "write -P 0x5a 0 4M", "write -P 0xa5 8M 1M", "write -z 12M 1M", "flush", "read -P 0x5a 0 4M", "read -P 0xa5 8M 1M");

        var stop = daemon.Cli("backing-stop", "--backing-id", "0");
        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.Empty(daemon.Backings());
        QemuIo(kit.Uri(), "read -P 0x5a 0 4M", "read -P 0xa5 8M 1M", "read -P 0 12M 1M", "read -P 0 4M 4M");
    }

    [Fact]
    public void NbdkitFileOverTcp_ReattachesAfterRestartAndRefusesAnotherVolume()
    {
        using var box = new Sandbox();
        string file = box.SparseFile("remote.img", 48 << 20);
        string pmem = box.PmemPath();
        string uri;
        using (var kit = RemoteServer.NbdkitTcp("file", file))
        {
            uri = kit.Uri();
            using (var daemon = StartDaemon(box, pmem))
            {
                daemon.Json("backing-start", "--path", uri, "--cache-size", CacheSize);
                QemuIo(box.Uri(), "write -P 0x3c 1M 2M", "flush");
                Assert.Equal(0, daemon.Terminate());
            }

            using (var daemon = StartDaemon(box, format: false))
            {
                daemon.Json("cache-start", "--path", pmem);
                var b = Assert.Single(daemon.Backings());
                Assert.Equal("running", b.State);
                Assert.Equal(uri, b.BackingPath);
                QemuIo(box.Uri(), "read -P 0x3c 1M 2M", "write -P 0x3d 5M 1M", "flush");
                Assert.Equal(0, daemon.Terminate());
            }
        }

        // Another volume answers at the same address: a different size is not the recorded one.
        string other = box.SparseFile("other.img", 40 << 20);
        var port = new Uri(uri).Port;
        using (var impostor = RemoteServer.NbdkitTcpOn(port, "file", other))
        using (var daemon = StartDaemon(box, format: false))
        {
            var start = daemon.Cli("cache-start", "--path", pmem);
            Assert.True(start.ExitCode == 0, start.ToString());
            var b = Assert.Single(daemon.Backings());
            Assert.Equal("refused", b.State);
            Assert.Contains("identity mismatch", b.Error);
            QemuIo(impostor.Uri(), "read -P 0 0 40M"); // nothing was written to it
        }
    }

    [Fact]
    public void QemuNbdBacking_FioVerifiesThroughTheExportAndTheServerHoldsTheData()
    {
        Tools.Require("fio");
        using var box = new Sandbox();
        string file = box.SparseFile("q.img", 64 << 20);
        using var qemu = RemoteServer.QemuNbd(box, "q", file);
        using var daemon = StartDaemon(box);
        daemon.Json("backing-start", "--path", qemu.Uri(), "--cache-size", CacheSize);

        string[] job = ["--name=v", "--ioengine=nbd", "--rw=randwrite", "--bs=4k", "--size=24m", "--iodepth=16",
            "--verify=crc32c", "--verify_fatal=1", "--randseed=7"];
        var write = Tools.Run("fio", [.. job, $"--uri={box.Uri()}", "--do_verify=1"]);
        Assert.True(write.ExitCode == 0 && write.Stdout.Contains("err= 0"), $"fio through PCache: {write}");

        var stop = daemon.Cli("backing-stop", "--backing-id", "0");
        Assert.True(stop.ExitCode == 0, stop.ToString());

        var verify = Tools.Run("fio", [.. job, $"--uri={qemu.Uri()}", "--verify_only=1"]);
        Assert.True(verify.ExitCode == 0 && verify.Stdout.Contains("err= 0"), $"fio verify on qemu-nbd directly: {verify}");
    }

    [Theory]
    [InlineData("nbd:///export", "invalid_argument", "needs a host")]
    [InlineData("nbds://127.0.0.1/x", "invalid_argument", "TLS")]
    [InlineData("nbd+unix:///x", "invalid_argument", "socket=")]
    [InlineData("nbd://127.0.0.1:99999/x", "invalid_argument", "port")]
    public void MalformedNbdUris_AreRefusedWithAClearError(string uri, string code, string message)
    {
        using var box = new Sandbox();
        using var daemon = StartDaemon(box);
        var r = daemon.Cli("backing-start", "--path", uri, "--cache-size", CacheSize);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(code, r.Stderr);
        Assert.Contains(message, r.Stderr);
        Assert.Empty(daemon.Backings());
    }

    [Fact]
    public void ServersACacheCannotTrust_AreRefusedAndTheDaemonGoesOn()
    {
        using var box = new Sandbox();
        using var daemon = StartDaemon(box);
        using var noFlush = RemoteServer.Nbdkit(box, "noflush", "eval", "get_size=echo 16777216",
            "pread=dd if=/dev/zero count=$3 iflag=count_bytes status=none", "can_write=exit 0", "pwrite=cat >/dev/null", "can_flush=exit 3");
        using var readOnly = RemoteServer.Nbdkit(box, "ro", "-r", "memory", "16M");

        var r = daemon.Cli("backing-start", "--path", noFlush.Uri(), "--cache-size", CacheSize);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("cannot flush", r.Stderr);

        r = daemon.Cli("backing-start", "--path", readOnly.Uri(), "--cache-size", CacheSize);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("read-only", r.Stderr);

        r = daemon.Cli("backing-start", "--path", $"nbd+unix:///?socket={box.Dir}/nobody.sock", "--cache-size", CacheSize);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("cannot connect", r.Stderr);

        Assert.Empty(daemon.Backings());
        Assert.False(daemon.HasExited);
    }
}

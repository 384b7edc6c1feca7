namespace PCache.Nbd.Tests;

/// <summary>Data in, data out, through the standard tools; persistence across daemon restarts.</summary>
public sealed class RoundTripTests
{
    [Fact]
    public void NbdcopyRoundTripMatchesQemuImgCompare()
    {
        using var host = new DaemonExport(size: 64L << 20);
        var source = Path.Combine(host.Directory, "source.img");
        var output = Path.Combine(host.Directory, "output.img");
        // Random data with a zero gap in the middle, so nbdcopy also uses zeroing and block status.
        var data = new byte[64 << 20];
        Random.Shared.NextBytes(data.AsSpan(0, 24 << 20));
        Random.Shared.NextBytes(data.AsSpan(40 << 20));
        File.WriteAllBytes(source, data);

        Tools.Check("nbdcopy", source, host.Uri);
        var compare = Tools.Run("qemu-img", "compare", "-f", "raw", "-F", "raw", source, host.Uri);
        Assert.True(compare.ExitCode == 0 && compare.Stdout.Contains("Images are identical"), compare.ToString());

        Tools.Check("nbdcopy", host.Uri, output);
        Assert.True(data.AsSpan().SequenceEqual(File.ReadAllBytes(output)), "export → file copy differs from the source");

        // Several connections and deep queues (the export advertises multi-conn), over different data.
        Random.Shared.NextBytes(data);
        data.AsSpan(8 << 20, 8 << 20).Clear();
        File.WriteAllBytes(source, data);
        Tools.Check("nbdcopy", "-C", "4", "-R", "64", "--request-size=1048576", "--flush", source, host.Uri);
        var again = Tools.Run("qemu-img", "compare", "-f", "raw", "-F", "raw", source, host.Uri);
        Assert.True(again.ExitCode == 0 && again.Stdout.Contains("Images are identical"), again.ToString());
    }

    [Fact]
    public void QemuIoPatternsReadBackInWritebackAndWritethroughModes()
    {
        using var host = new DaemonExport();
        var writeback = Tools.Run("qemu-io", "-f", "raw", "-t", "writeback", host.Uri,
            "-c", "write -P 0xab 0 64k", "-c", "read -P 0xab 0 64k",
            "-c", "write -z 1M 64k", "-c", "read -P 0 1M 64k",
            "-c", "write -P 0x33 2M 64k", "-c", "write -z -u 2M 64k", "-c", "read -P 0 2M 64k",
            "-c", "discard 3M 64k",
            "-c", "aio_write -P 0x11 4M 64k", "-c", "aio_write -P 0x12 5M 64k", "-c", "aio_flush",
            "-c", "read -P 0x11 4M 64k", "-c", "read -P 0x12 5M 64k",
            "-c", "write -f -P 0x22 8M 4k", "-c", "read -P 0x22 8M 4k",
            "-c", "write -P 0x44 8191k 1k", "-c", "read -P 0x44 8191k 1k",
            "-c", "flush");
        Assert.True(writeback.ExitCode == 0 && !writeback.Stdout.Contains("failed"), writeback.ToString());

        // Default cache mode: every write carries FUA.
        var writethrough = Tools.Run("qemu-io", "-f", "raw", host.Uri,
            "-c", "read -P 0xab 0 64k", "-c", "write -P 0x55 16M 1M", "-c", "read -P 0x55 16M 1M");
        Assert.True(writethrough.ExitCode == 0 && !writethrough.Stdout.Contains("failed"), writethrough.ToString());

        // A wrong pattern must be caught, or the checks above prove nothing.
        var mismatch = Tools.Run("qemu-io", "-f", "raw", host.Uri, "-c", "read -P 0xcd 0 4k");
        Assert.NotEqual(0, mismatch.ExitCode);
    }

    [Fact]
    public void FioVerifiedDataSurvivesGracefulAndKilledRestarts()
    {
        using var host = new DaemonExport(size: 64L << 20);
        string[] job = ["--name=verify", "--ioengine=nbd", $"--uri={host.Uri}", "--rw=randwrite", "--bs=4k",
            "--size=32m", "--iodepth=16", "--verify=crc32c", "--verify_fatal=1", "--randseed=4242"];

        var write = Tools.Run("fio", [.. job, "--do_verify=1", "--fsync=256"], timeout: TimeSpan.FromMinutes(2));
        Assert.True(write.ExitCode == 0 && write.Stdout.Contains("err= 0"), write.ToString());

        host.Stop();
        Assert.False(File.Exists(host.SocketPath), "a graceful stop removes the socket file");
        host.Start();
        var afterStop = Tools.Run("fio", [.. job, "--verify_only=1"], timeout: TimeSpan.FromMinutes(2));
        Assert.True(afterStop.ExitCode == 0 && afterStop.Stdout.Contains("err= 0"), afterStop.ToString());

        var flush = Tools.NbdshWithUri(host.Uri, "h = nbd.NBD()\nh.connect_uri(uri)\nh.flush()\nprint('flushed')");
        Assert.True(flush.ExitCode == 0, flush.ToString());
        host.Kill();
        Assert.True(File.Exists(host.SocketPath), "SIGKILL leaves the socket file behind");
        host.Start();   // replaces the stale socket
        var afterKill = Tools.Run("fio", [.. job, "--verify_only=1"], timeout: TimeSpan.FromMinutes(2));
        Assert.True(afterKill.ExitCode == 0 && afterKill.Stdout.Contains("err= 0"), afterKill.ToString());

        // Corruption is detected, so the passes above mean something.
        Tools.Check("qemu-io", "-f", "raw", host.Uri, "-c", "write -P 0 0 32m");
        var corrupt = Tools.Run("fio", [.. job, "--verify_only=1"], timeout: TimeSpan.FromMinutes(2));
        Assert.NotEqual(0, corrupt.ExitCode);
    }
}

namespace PCache.Cli.Tests;

/// <summary>
/// The NBD reader polls a busy client's socket before it blocks (InputPoller); a connection that goes
/// quiet must stop that at once, or every idle client would cost the host a core.
/// </summary>
public sealed class IdleConnectionTests
{
    [Fact]
    public void AConnectionThatGoesQuietAfterBusyTrafficCostsTheDaemonNoCpu()
    {
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box);
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "64M", "--format", "--force");
        daemon.Json("backing-start", "--path", box.SparseFile("b.img", 16 << 20), "--cache-size", "16M");
        // Back-to-back requests (polling on), then two seconds of silence on the open connection,
        // during which the script reads the daemon's CPU time (user + system) from /proc.
        var r = Tools.Nbdsh(box.Uri(), $$"""
            import time
            def cpu():
                f = open("/proc/{{daemon.Pid}}/stat").read().rsplit(")", 1)[1].split()
                return int(f[11]) + int(f[12])
            for i in range(3000):
                h.pread(4096, (i % 4096) * 4096)
            before = cpu()
            time.sleep(2)
            print("idle ticks", cpu() - before)
            """, TimeSpan.FromMinutes(1));
        Assert.True(r.ExitCode == 0, $"{r}\n{daemon.Log}");
        int ticks = int.Parse(r.Stdout.Split("idle ticks ")[1].Trim());
        // A reader still polling would use about 200 ticks (two seconds of one core); a quiet daemon next to none.
        Assert.True(ticks < 50, $"the daemon used {ticks} CPU ticks in two idle seconds");
    }
}

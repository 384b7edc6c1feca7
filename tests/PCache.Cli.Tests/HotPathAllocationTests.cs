namespace PCache.Cli.Tests;

/// <summary>
/// The shipped daemon serves steady-state NBD requests (socket, cache engine, write-back and GC
/// running behind them) without allocating per request: no garbage, so no collector pauses.
/// </summary>
public sealed class HotPathAllocationTests
{
    [Fact]
    public void SteadyStateRequestsThroughTheDaemonAllocateNothingPerRequest()
    {
        Tools.Require("fio");
        using var box = new Sandbox();
        string backing = box.SparseFile("disk.img", 64 << 20);
        using var daemon = new TestDaemon(box);
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "256M", "--format", "--force");
        daemon.Json("backing-start", "--path", backing, "--cache-size", "128M");
        string uri = box.Uri();

        long Allocated() => daemon.Json("version").GetProperty("daemon").GetProperty("allocated_bytes").GetInt64();
        long Run(string rw, int qd, int requests)
        {
            long before = Allocated();
            Tools.Check("fio", "--name=alloc", "--ioengine=nbd", $"--uri={uri}", $"--rw={rw}", "--bs=4k", "--size=64m",
                $"--iodepth={qd}", $"--number_ios={requests}", "--norandommap");
            return Allocated() - before;
        }

        // Warm up: the request pools, reader and worker threads, write-back and GC settle in.
        Run("randwrite", 32, 10_000);
        Run("randread", 32, 10_000);

        // A run costs a connection (handshake, buffers, threads) and the two `version` calls around it;
        // only the difference between a long and a short run is per request. The writes overrun the
        // 128 MiB cache, so write-back and GC work throughout. On a loaded machine one run may grow a pool
        // further than the other (more requests turn slow and run concurrently): that is per connection,
        // so the best of three attempts counts. 20,000 more requests may cost less than 20,000 bytes.
        const int Extra = 20_000;
        foreach (var (rw, qd) in new[] { ("randwrite", 1), ("randwrite", 32), ("randread", 1), ("randread", 32) })
        {
            var attempts = new List<long>();
            for (int attempt = 0; attempt < 3 && (attempts.Count == 0 || attempts.Min() >= Extra); attempt++)
                attempts.Add(Run(rw, qd, 5_000 + Extra) - Run(rw, qd, 5_000));
            Assert.True(attempts.Min() < Extra, $"{rw} qd{qd}: {string.Join(", ", attempts)} more bytes allocated for {Extra:N0} more requests");
        }
    }
}

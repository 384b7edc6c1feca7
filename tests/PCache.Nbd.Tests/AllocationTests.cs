namespace PCache.Nbd.Tests;

[CollectionDefinition(nameof(SerialCollection), DisableParallelization = true)]
public sealed class SerialCollection;

/// <summary>The hot path allocates nothing per request (pooled buffers and work items).</summary>
[Collection(nameof(SerialCollection))]
public sealed class AllocationTests
{
    [Fact]
    public void SteadyStateRequestsDoNotAllocate()
    {
        using var server = new InProcessServer(null, new MemoryExport("pcache0", 64 << 20));
        var uri = $"nbd+unix:///pcache0?socket={server.SocketPath}";
        long Allocated(string rw, int qd, int requests)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            Tools.Check("fio", "--name=alloc", "--ioengine=nbd", $"--uri={uri}", $"--rw={rw}", "--bs=4k", "--size=64m",
                $"--iodepth={qd}", $"--number_ios={requests}", "--norandommap");
            return GC.GetTotalAllocatedBytes(precise: true) - before;
        }

        // Warm up: pools, worker threads and the JIT settle in.
        Allocated("randwrite", 32, 20_000);
        Allocated("randread", 32, 20_000);

        // Each fio run costs a connection (buffers, threads) and the test's process plumbing; only the
        // difference between a short and a long run is per request. 16 bytes per request would be 640 KB.
        // On a loaded machine a run may also start extra threads and grow its request pool further (requests
        // turn "slow" and run concurrently), which is per connection, not per request: both runs are long
        // enough to warm up fully, and the best of three attempts counts.
        foreach (var (rw, qd) in new[] { ("randwrite", 32), ("randread", 32), ("randwrite", 1), ("randread", 1), ("randrw", 8) })
        {
            var attempts = new List<long>();
            for (int attempt = 0; attempt < 3 && (attempts.Count == 0 || attempts.Min() >= 64 * 1024); attempt++)
                attempts.Add(Allocated(rw, qd, 60_000) - Allocated(rw, qd, 20_000));
            Assert.True(attempts.Min() < 64 * 1024, $"{rw} qd{qd}: {string.Join(", ", attempts)} more bytes allocated for 40,000 more requests");
        }
    }
}

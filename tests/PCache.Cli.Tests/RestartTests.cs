namespace PCache.Cli.Tests;

/// <summary>
/// The cache device records its backings: a daemon stopped gracefully or killed comes back,
/// replays them, re-attaches the backing and serves the same bytes over NBD.
/// </summary>
public sealed class RestartTests
{
    private const string WriteScript = Tools.PatternPy + """
        h.pwrite(pattern(1, 1 << 20), 0)
        h.pwrite(pattern(2, 3 << 20), 100 << 20)
        h.pwrite(pattern(3, 4096), (256 << 20) - 4096)
        h.flush()
        """;

    private const string ReadScript = Tools.PatternPy + """
        assert h.pread(1 << 20, 0) == pattern(1, 1 << 20), "first range differs"
        assert h.pread(3 << 20, 100 << 20) == pattern(2, 3 << 20), "second range differs"
        assert h.pread(4096, (256 << 20) - 4096) == pattern(3, 4096), "last block differs"
        assert h.pread(4096, 50 << 20) == bytes(4096), "an unwritten range is not zero"
        print("same bytes")
        """;

    [Fact]
    public void GracefulStopThenCacheStartReattachesAndServesTheSameBytes()
    {
        Tools.Require("nbdsh");
        using var box = new Sandbox();
        string pmem = box.PmemPath();
        string backing = box.SparseFile("backing.img", 256 << 20);
        using (var daemon = new TestDaemon(box))
        {
            daemon.Json("cache-start", "--path", pmem, "--size", "1G", "--format", "--force");
            daemon.Json("backing-start", "--path", backing, "--cache-size", SeedExampleTests.SmallCache);
            var w = Tools.Nbdsh(box.Uri(), WriteScript);
            Assert.True(w.ExitCode == 0, w.ToString());
            Assert.Equal(0, daemon.Terminate());
            daemon.WaitFor("STOPPING=1");
            Assert.Contains("stopped", daemon.Log);
            Assert.False(File.Exists(box.SocketPath), "the control socket outlived the daemon");
        }
        using (var daemon = new TestDaemon(box))
        {
            var started = daemon.Json("cache-start", "--path", pmem);
            Assert.False(started.GetProperty("formatted").GetBoolean());
            var b = Assert.Single(daemon.Backings());
            Assert.Equal("running", b.State);
            Assert.Equal(backing, b.BackingPath);
            Assert.Equal(box.Uri(0), b.LogicDev);
            var r = Tools.Nbdsh(box.Uri(), ReadScript);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal(0, daemon.Terminate());
        }
    }

    [Fact]
    public void SigkillAfterFlushThenTheConfigFileBringsItBackWithTheSameBytes()
    {
        Tools.Require("nbdsh");
        using var box = new Sandbox();
        string pmem = box.PmemPath();
        string backing = box.SparseFile("backing.img", 256 << 20);
        string config = Path.Combine(box.Dir, "pcache.conf");
        File.WriteAllText(config, $$"""
            // the caches to bring up at start; the backing is created once, then re-attached
            {
              "nbd_socket": "{{box.NbdSocketPath}}",
              "caches": [
                {
                  "path": "{{pmem}}",
                  "size": "1G",
                  "backings": [ { "path": "{{backing}}", "cache_size": "{{SeedExampleTests.SmallCache}}", "queues": 4 } ],
                },
              ],
            }
            """);
        using (var daemon = new TestDaemon(box, "--config", config))
        {
            var b = Assert.Single(daemon.Backings());
            Assert.Equal("running", b.State);
            Assert.Equal(4, b.Queues);
            var w = Tools.Nbdsh(box.Uri(), WriteScript);
            Assert.True(w.ExitCode == 0, w.ToString());
            daemon.Kill();
        }
        using (var daemon = new TestDaemon(box, "--config", config))
        {
            var b = Assert.Single(daemon.Backings());
            Assert.Equal("running", b.State);
            Assert.Equal(0, b.BackingId);
            var r = Tools.Nbdsh(box.Uri(), ReadScript);
            Assert.True(r.ExitCode == 0, r.ToString());

            // And write-back brings the backing file itself to the same bytes.
            var stop = daemon.Cli("backing-stop", "--backing-id", "0");
            Assert.True(stop.ExitCode == 0, stop.ToString());
            using var f = File.OpenRead(backing);
            var expected = Pattern(1, 1 << 20);
            var actual = new byte[expected.Length];
            f.ReadExactly(actual);
            Assert.Equal(expected, actual);
        }
    }

    /// <summary>The same bytes as the Python pattern(seed, n).</summary>
    internal static byte[] Pattern(int seed, int n)
    {
        var block = new byte[65536];
        for (int i = 0; i < block.Length; i++) block[i] = (byte)(((i * 131 + seed * 7) ^ (i >> 8)) & 255);
        var result = new byte[n];
        for (int o = 0; o < n; o += block.Length) Array.Copy(block, 0, result, o, Math.Min(block.Length, n - o));
        return result;
    }
}

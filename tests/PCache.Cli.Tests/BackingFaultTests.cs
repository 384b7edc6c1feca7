using System.Globalization;

namespace PCache.Cli.Tests;

/// <summary>
/// dm-pcache's fault matrix end to end through the real daemon, on a real failing or slow disk
/// (nbdkit's error and delay filters behind nbdfuse): a failing backing loses nothing, a slow
/// one hangs nothing, and a crash during write-back leaves the backing a flush prefix.
/// </summary>
public sealed class BackingFaultTests
{
    private static readonly TimeSpan Liveness = TimeSpan.FromSeconds(60);

    private static void WaitUntil(Func<bool> condition, string what, TestDaemon daemon) =>
        StopUnderLoadTests.WaitUntil(condition, what, daemon);

    [Fact]
    public void AFailingBackingFailsMissesWithEioAbsorbsWritesRetriesAndRecoversEverything()
    {
        Tools.Require("nbdsh");
        Tools.Require("qemu-io");
        using var box = new Sandbox();
        using var disk = new FaultyBacking(box);
        using var daemon = new TestDaemon(box);
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "256M", "--format", "--force");
        daemon.Json("backing-start", "--path", disk.DiskPath, "--cache-size", SeedExampleTests.SmallCache);
        disk.Failing = true;

        // Writes are absorbed and FLUSH succeeds: the data is durable in pmem.
        var w = Tools.Nbdsh(box.Uri(), Tools.PatternPy + "h.pwrite(pattern(7, 2 << 20), 0)\nh.flush()\n");
        Assert.True(w.ExitCode == 0, w.ToString());

        // A read that misses fails with EIO, to nbdsh and to qemu-io; a hit is still served.
        var miss = Tools.Nbdsh(box.Uri(), Tools.PatternPy + """
            import errno
            try:
                h.pread(65536, 16 << 20)
                raise SystemExit("a read from the failing backing succeeded")
            except nbd.Error as e:
                assert e.errno in ("EIO", errno.EIO), f"errno {e.errno}: {e}"  # a name in some libnbd versions
            assert h.pread(2 << 20, 0) == pattern(7, 2 << 20), "a cached range is not served"
            print("EIO")
            """);
        Assert.True(miss.ExitCode == 0 && miss.Stdout.Contains("EIO"), miss.ToString());
        var qemu = Tools.Run("qemu-io", "-f", "raw", "-c", "read 20M 64k", box.Uri());
        Assert.Contains("Input/output error", qemu.Stdout + qemu.Stderr);

        // Write-back keeps retrying with back-off and says why; nothing dirty is dropped.
        WaitUntil(() => daemon.Stat(0) is { WritebackError: not null } s && s.Counters["writeback_errors"] >= 2, "write-back retries reported in stat", daemon);
        var failing = daemon.Stat(0);
        Assert.Contains("retrying", failing.WritebackError);
        Assert.True(failing.DirtyBytes >= 2 << 20, $"only {failing.DirtyBytes} dirty bytes left of 2 MiB written");
        Assert.True(failing.Counters["backing_read_errors"] >= 2);
        Assert.Contains("failed", daemon.Backings().Single().Error);

        // The disk comes back: everything reaches it.
        disk.Failing = false;
        WaitUntil(() => daemon.Stat(0) is { DirtyBytes: 0, WritebackError: null }, "write-back to catch up", daemon);
        var onDisk = new byte[2 << 20];
        using (var f = File.OpenRead(disk.DiskPath)) f.ReadExactly(onDisk);
        Assert.True(RestartTests.Pattern(7, 2 << 20).AsSpan().SequenceEqual(onDisk), "the absorbed writes did not all reach the backing");
        var late = Tools.Nbdsh(box.Uri(), "assert h.pread(65536, 16 << 20) == bytes(65536)\n");
        Assert.True(late.ExitCode == 0, late.ToString());
        Assert.Equal(0, daemon.Terminate());
    }

    [Fact]
    public void ASlowBackingUnderWritersTrimsFlushesAndGcOnAFullCacheHangsNothing()
    {
        Tools.Require("nbdsh");
        using var box = new Sandbox();
        using var disk = new FaultyBacking(box, "128M", readDelay: "2ms", writeDelay: "2ms");
        using var daemon = new TestDaemon(box);
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "256M", "--format", "--force");
        daemon.Json("backing-start", "--path", disk.DiskPath, "--cache-size", SeedExampleTests.SmallCache, "--gc-percent", "50");

        // Each client runs for a few seconds on its own connection and reports its slowest request.
        var run = Tools.Nbdsh(box.Uri(), $$"""
            import threading, time, random, os
            uri = "{{box.Uri()}}"
            size = 128 << 20
            results, errors = {}, []
            def client(kind, seed):
                try:
                    c = nbd.NBD()
                    c.connect_uri(uri)
                    rnd = random.Random(seed)
                    data = os.urandom(65536)
                    worst, n, end = 0.0, 0, time.monotonic() + 8
                    while time.monotonic() < end:
                        t = time.monotonic()
                        if kind == "write":
                            length = rnd.choice([4096, 65536])
                            c.pwrite(data[:length], rnd.randrange(0, (size - length) // 4096) * 4096)
                        elif kind == "trim":
                            c.trim(1 << 20, rnd.randrange(0, size >> 20) << 20)
                        elif kind == "flush":
                            c.flush()
                        else:
                            c.pread(4096, rnd.randrange(0, size // 4096) * 4096)
                        worst = max(worst, time.monotonic() - t)
                        n += 1
                    c.shutdown()
                    results[f"{kind}{seed}"] = (n, worst)
                except Exception as e:
                    errors.append(f"{kind}{seed}: {e}")
            threads = [threading.Thread(target=client, args=(k, i)) for i, k in enumerate(["write", "write", "write", "trim", "flush", "read"])]
            for t in threads: t.start()
            for t in threads: t.join()
            for k, (n, worst) in sorted(results.items()): print(k, n, f"{worst:.3f}")
            if errors: raise SystemExit("; ".join(errors))
            """, timeout: TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, $"{run}\n{daemon.Log}");
        var lines = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(6, lines.Length);
        foreach (var line in lines)
        {
            var parts = line.Split(' ');
            Assert.True(long.Parse(parts[1], CultureInfo.InvariantCulture) > 0, $"{parts[0]} completed no request");
            double worst = double.Parse(parts[2], CultureInfo.InvariantCulture);
            Assert.True(worst < Liveness.TotalSeconds, $"a {parts[0]} request waited {worst} s");
        }
        var s = daemon.Stat(0);
        Assert.True(s.Counters["writer_waits"] > 0, "the cache never filled up, so this proved nothing about a full cache");
        Assert.True(s.Counters["gc_segments_freed"] > 0, "GC never freed a segment");
        Assert.Equal(0, daemon.Terminate());
    }

    [Fact]
    public void SigkillDuringWritebackLeavesTheBackingAFlushPrefixAndTheRestartServesEveryFlushedByte()
    {
        Tools.Require("nbdsh");
        const int Blocks = 16, Epochs = 5, Block = 65536;
        using var box = new Sandbox();
        using var disk = new FaultyBacking(box, writeDelay: "50ms");
        string pmem = box.PmemPath();
        using (var daemon = new TestDaemon(box))
        {
            daemon.Json("cache-start", "--path", pmem, "--size", "256M", "--format", "--force");
            daemon.Json("backing-start", "--path", disk.DiskPath, "--cache-size", SeedExampleTests.SmallCache);
            // Each epoch rewrites every block with its own pattern, then flushes. The disk is held
            // until all of it is in the cache, so write-back has every epoch still to do.
            disk.Pause();
            var w = Tools.Nbdsh(box.Uri(), Tools.PatternPy + $$"""
                for epoch in range(1, {{Epochs + 1}}):
                    for b in range({{Blocks}}):
                        h.pwrite(pattern(epoch * 32 + b, {{Block}}), b * 2 * {{Block}})
                    h.flush()
                """);
            Assert.True(w.ExitCode == 0, w.ToString());
            disk.Resume();
            WaitUntil(() => daemon.Stat(0) is { DirtyBytes: > 0 } s && s.Counters["writeback_bytes"] > 0, "write-back under way", daemon);
            daemon.Kill();
        }

        // The backing holds, per sector, the version of epoch k or k+1 for one k: a prefix of the
        // flushed log (the write cut by the kill may have reached the disk in part: a disk only
        // promises whole sectors), never data from no epoch, never an older epoch behind a newer one.
        const int Sector = 512;
        var versions = new int[Blocks * (Block / Sector)];
        using (var f = File.OpenRead(disk.DiskPath))
        {
            var actual = new byte[Block];
            for (int b = 0; b < Blocks; b++)
            {
                f.Position = (long)b * 2 * Block;
                f.ReadExactly(actual);
                for (int s = 0; s < Block / Sector; s++)
                {
                    var sector = actual[(s * Sector)..((s + 1) * Sector)];
                    int v = sector.AsSpan().IndexOfAnyExcept((byte)0) < 0 ? 0
                        : Enumerable.Range(1, Epochs).FirstOrDefault(e => RestartTests.Pattern(e * 32 + b, Block).AsSpan(s * Sector, Sector).SequenceEqual(sector), -1);
                    Assert.True(v >= 0, $"sector {s} of block {b} on the backing is none of the versions written");
                    versions[b * (Block / Sector) + s] = v;
                }
            }
        }
        Assert.True(versions.Max() - versions.Min() <= 1,
            $"the backing is not a flush prefix: per-block versions {string.Join(',', versions.Chunk(Block / Sector).Select(c => $"{c.Min()}..{c.Max()}"))}");

        using (var daemon = new TestDaemon(box))
        {
            daemon.Json("cache-start", "--path", pmem);
            var r = Tools.Nbdsh(box.Uri(), Tools.PatternPy + $$"""
                for b in range({{Blocks}}):
                    assert h.pread({{Block}}, b * 2 * {{Block}}) == pattern({{Epochs}} * 32 + b, {{Block}}), f"block {b} differs"
                """);
            Assert.True(r.ExitCode == 0, $"{r}\n{daemon.Log}");
            var stop = daemon.Cli("backing-stop", "--backing-id", "0");
            Assert.True(stop.ExitCode == 0, stop.ToString());
            using var f = File.OpenRead(disk.DiskPath);
            var actual = new byte[Block];
            for (int b = 0; b < Blocks; b++)
            {
                f.Position = (long)b * 2 * Block;
                f.ReadExactly(actual);
                Assert.True(RestartTests.Pattern(Epochs * 32 + b, Block).AsSpan().SequenceEqual(actual), $"block {b} is not the last flushed version");
            }
            Assert.Equal(0, daemon.Terminate());
        }
    }
}

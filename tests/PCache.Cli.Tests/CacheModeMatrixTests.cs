using System.Text.Json;
using PCache.Client;

namespace PCache.Cli.Tests;

/// <summary>
/// dm-pcache's upstream test matrix through the real daemon: cache mode × gc_percent {0, 80} ×
/// data CRC {on, off}, each verified by fio (ioengine=nbd) through its export, kept across a
/// daemon restart, then checked against a failing disk (nbdkit's error filter behind nbdfuse):
/// writes fail where the mode acknowledges on the backing and are absorbed where it keeps them,
/// reads that miss fail everywhere. One daemon serves all 20 combinations at once.
/// </summary>
public sealed class CacheModeMatrixTests
{
    private static readonly string[] Modes = ["writeback", "writethrough", "writearound", "writeonly", "passthrough"];

    private sealed record Combo(string Mode, int GcPercent, bool DataCrc, FaultyBacking Disk, Sandbox DiskBox)
    {
        public int BackingId { get; set; }
        public override string ToString() => $"{Mode}/gc{GcPercent}/crc-{(DataCrc ? "on" : "off")} (backing {BackingId})";
    }

    private static string[] FioJobs(Sandbox box, IEnumerable<Combo> combos, params string[] extra) =>
    [
        "--ioengine=nbd", "--rw=randwrite", "--bs=16k", "--size=4m", "--iodepth=4", "--verify=crc32c",
        "--verify_fatal=1", "--randseed=1212", .. extra,
        .. combos.SelectMany(c => new[] { $"--name=b{c.BackingId}", $"--uri={box.Uri(c.BackingId)}" }),
    ];

    [Fact]
    public void EveryModeGcAndCrcCombinationPassesFioVerifyKeepsItsModeOverARestartAndMeetsTheFaultExpectations()
    {
        Tools.Require("fio");
        Tools.Require("nbdsh");
        using var box = new Sandbox();
        var combos = new List<Combo>();
        try
        {
            foreach (bool crc in new[] { false, true })
                foreach (int gc in new[] { 0, 80 })
                    foreach (string mode in Modes)
                    {
                        // Sizes differ: empty nbdfuse disks of one size would look like the same device twice.
                        var diskBox = new Sandbox();
                        combos.Add(new Combo(mode, gc, crc, new FaultyBacking(diskBox, $"{32 + combos.Count}M"), diskBox));
                    }
            string[] pmem = [box.PmemPath(), box.PmemPath()];
            var daemon = new TestDaemon(box);
            try
            {
                for (int c = 0; c < 2; c++)
                    daemon.Json(["cache-start", "--path", pmem[c], "--size", "256M", "--format", "--force", .. (c == 1 ? new[] { "--data-crc" } : [])]);
                foreach (var combo in combos)
                {
                    var entry = daemon.Json("backing-start", "--path", combo.Disk.DiskPath, "--cache-size", "16M", "--cache-id", combo.DataCrc ? "1" : "0",
                        "--gc-percent", combo.GcPercent.ToString(), "--mode", combo.Mode).Deserialize(ControlJsonContext.Default.BackingEntry)!;
                    combo.BackingId = entry.BackingId;
                    Assert.Equal((combo.Mode, combo.DataCrc, combo.GcPercent), (entry.Mode, entry.DataCrc, entry.CacheGcPercent));
                }

                var fio = Tools.Run("fio", FioJobs(box, combos, "--do_verify=1"), timeout: TimeSpan.FromMinutes(3));
                Assert.True(fio.ExitCode == 0 && fio.Stdout.Split("err= 0").Length - 1 == combos.Count, $"{fio}\n{daemon.Log}");

                // What each mode did with the writes, by the engine's own counters.
                foreach (var combo in combos)
                {
                    var s = daemon.Stat(combo.BackingId);
                    Assert.True(s.Mode == combo.Mode, $"{combo}: stat shows {s.Mode}");
                    if (combo.Mode is "writearound" or "passthrough")
                        Assert.True(s.Counters["bypass_mode_write_bytes"] > 0, $"{combo}: no write went around the cache");
                    if (combo.Mode is "writeonly" or "passthrough")
                        Assert.True(s.Counters["miss_fill_bytes"] == 0 && s.Counters["bypass_mode_read_bytes"] == s.Counters["read_miss_bytes"],
                            $"{combo}: a read miss filled the cache");
                    if (combo.Mode is "writethrough" or "writearound" or "passthrough")
                        Assert.True(s.DirtyBytes == 0, $"{combo}: {s.DirtyBytes} dirty bytes in a mode that acknowledges on the backing");
                }

                Assert.Equal(0, daemon.Terminate());
            }
            finally
            {
                daemon.Dispose();
            }

            // A restart keeps every mode; the data is all there.
            daemon = new TestDaemon(box);
            try
            {
                foreach (var p in pmem) daemon.Json("cache-start", "--path", p);
                var backings = daemon.Backings();
                foreach (var combo in combos)
                {
                    var b = backings.Single(x => x.BackingId == combo.BackingId);
                    Assert.True((b.Mode, b.State, b.DataCrc) == (combo.Mode, BackingStates.Running, combo.DataCrc), $"{combo}: after the restart {b.Mode}, {b.State}, crc {b.DataCrc}");
                }
                var again = Tools.Run("fio", FioJobs(box, combos, "--verify_only=1"), timeout: TimeSpan.FromMinutes(3));
                Assert.True(again.ExitCode == 0 && again.Stdout.Split("err= 0").Length - 1 == combos.Count, $"{again}\n{daemon.Log}");

                // The disks fail: each export answers one write and one read that misses.
                foreach (var combo in combos) combo.Disk.Failing = true;
                var probe = Tools.Nbdsh(box.Uri(combos[0].BackingId), $$"""
                    ids = [{{string.Join(", ", combos.Select(c => c.BackingId))}}]
                    for i in ids:
                        c = nbd.NBD()
                        c.connect_uri("nbd+unix:///pcache%d?socket={{box.NbdSocketPath}}" % i)
                        try:
                            c.pwrite(b"\x5a" * 65536, 20 << 20)
                            c.flush()
                            w = "ok"
                        except nbd.Error:
                            w = "fail"
                        try:
                            c.pread(65536, 28 << 20)
                            r = "ok"
                        except nbd.Error:
                            r = "fail"
                        print(i, w, r)
                        c.shutdown()
                    """, timeout: TimeSpan.FromMinutes(2));
                Assert.True(probe.ExitCode == 0, $"{probe}\n{daemon.Log}");
                var outcome = probe.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' '))
                    .ToDictionary(p => int.Parse(p[0]), p => (Write: p[1], Read: p[2]));
                foreach (var combo in combos)
                {
                    string expectWrite = combo.Mode is "writeback" or "writeonly" ? "ok" : "fail";
                    Assert.True(outcome[combo.BackingId] == (expectWrite, "fail"),
                        $"{combo}: write {outcome[combo.BackingId].Write} (expected {expectWrite}), read miss {outcome[combo.BackingId].Read} (expected fail)");
                }

                // The disks come back: the absorbed writes reach them, the daemon stops cleanly.
                foreach (var combo in combos) combo.Disk.Failing = false;
                foreach (var combo in combos)
                    StopUnderLoadTests.WaitUntil(() => daemon.Stat(combo.BackingId) is { DirtyBytes: 0, PendingKeys: 0 }, $"{combo} written back", daemon);
                foreach (var combo in combos.Where(c => c.Mode is "writeback" or "writeonly"))
                {
                    var onDisk = new byte[65536];
                    using (var f = File.OpenRead(combo.Disk.DiskPath)) { f.Position = 20 << 20; f.ReadExactly(onDisk); }
                    Assert.True(onDisk.All(b => b == 0x5a), $"{combo}: the absorbed write did not reach the disk");
                }
                Assert.Equal(0, daemon.Terminate());
            }
            finally
            {
                daemon.Dispose();
            }
        }
        finally
        {
            foreach (var combo in combos)
            {
                combo.Disk.Dispose();
                combo.DiskBox.Dispose();
            }
        }
    }
}

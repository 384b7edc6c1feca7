using System.Diagnostics;
using System.Text.Json;
using PCache.Client;

namespace PCache.Cli.Tests;

/// <summary>Switching cache modes online and across restarts, through the real daemon and CLI.</summary>
public sealed class CacheModeSwitchTests
{
    private static string[] FioJob(string target, params string[] extra) =>
    [
        "--name=switch", .. target.StartsWith("nbd", StringComparison.Ordinal) ? new[] { "--ioengine=nbd", $"--uri={target}" } : ["--ioengine=psync", $"--filename={target}"],
        "--rw=randwrite", "--bs=4k", "--size=24m", "--iodepth=8", "--verify=crc32c", "--verify_fatal=1", "--randseed=777", .. extra,
    ];

    [Fact]
    public async Task SwitchingWritebackToPassthroughUnderFioLosesNoDirtyDataAndWaitFollowsTheWriteBack()
    {
        Tools.Require("fio");
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box);
        string disk = box.SparseFile("disk.img", 32 << 20);
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "128M", "--format", "--force");
        daemon.Json("backing-start", "--path", disk, "--cache-size", "64M");

        // fio writes (verify headers in every block) while the mode changes under it; at a bounded rate
        // (about three seconds for the job), so that it is still writing when the switch comes.
        using var fio = Process.Start(Tools.StartInfo("fio", FioJob(box.Uri(), "--do_verify=0", "--rate_iops=2000")))!;
        var output = fio.StandardOutput.ReadToEndAsync();
        var errors = fio.StandardError.ReadToEndAsync();
        StopUnderLoadTests.WaitUntil(() => fio.HasExited || daemon.Stat(0).Counters["write_requests"] > 1000, "fio under way", daemon);
        var switched = daemon.Json("backing-set", "--backing-id", "0", "--mode", "passthrough").Deserialize(ControlJsonContext.Default.BackingEntry)!;
        Assert.Equal("passthrough", switched.Mode);
        Assert.True(fio.WaitForExit(TimeSpan.FromMinutes(2)), "fio did not finish");
        string fioOut = await output, fioErr = await errors;
        Assert.True(fio.ExitCode == 0, $"{fioOut}\n{fioErr}\n{daemon.Log}");
        Assert.True(daemon.Stat(0).Counters["bypass_mode_write_bytes"] > 0, "no write went to the backing after the switch");

        // --wait returns once write-back emptied the cache of dirty data.
        var waited = daemon.Cli("backing-set", "--backing-id", "0", "--mode", "passthrough", "--wait");
        Assert.True(waited.ExitCode == 0, $"{waited}\n{daemon.Log}");
        var after = JsonDocument.Parse(waited.Stdout).RootElement.Deserialize(ControlJsonContext.Default.BackingEntry)!;
        Assert.True((after.Mode, after.Draining, after.DirtyBytes) == ("passthrough", false, 0L), waited.Stdout);

        var through = Tools.Run("fio", FioJob(box.Uri(), "--verify_only=1"), timeout: TimeSpan.FromMinutes(2));
        Assert.True(through.ExitCode == 0 && through.Stdout.Contains("err= 0"), $"{through}\n{daemon.Log}");
        daemon.Json("backing-stop", "--backing-id", "0");
        // The backing file alone holds every block fio wrote: nothing stayed behind in the cache.
        var onDisk = Tools.Run("fio", FioJob(disk, "--verify_only=1"), timeout: TimeSpan.FromMinutes(2));
        Assert.True(onDisk.ExitCode == 0 && onDisk.Stdout.Contains("err= 0"), onDisk.ToString());
        Assert.Equal(0, daemon.Terminate());
    }

    [Fact]
    public void ModeAndAdmissionSettingsAreCheckedAndTheModeSurvivesARestart()
    {
        using var box = new Sandbox();
        string pmem = box.PmemPath();
        string disk = box.SparseFile("disk.img", 16 << 20);
        using (var daemon = new TestDaemon(box))
        {
            daemon.Json("cache-start", "--path", pmem, "--size", "64M", "--format", "--force");
            var started = daemon.Json("backing-start", "--path", disk, "--cache-size", "16M", "--mode", "writeonly",
                "--sequential-cutoff", "4M", "--read-admission", "1").Deserialize(ControlJsonContext.Default.BackingEntry)!;
            Assert.True((started.Mode, started.SequentialCutoff, started.ReadAdmission) == ("writeonly", 4L << 20, 1), JsonSerializer.Serialize(started, ControlJsonContext.Default.BackingEntry));

            var bad = daemon.Cli("backing-set", "--backing-id", "0", "--mode", "writesideways");
            Assert.True(bad.ExitCode == 1 && bad.Stderr.Contains("writeback, writethrough, writearound, writeonly, passthrough"), bad.ToString());
            var tooMany = daemon.Cli("backing-set", "--backing-id", "0", "--read-admission", "16");
            Assert.Equal(2, tooMany.ExitCode);
            var odd = daemon.Cli("backing-set", "--backing-id", "0", "--sequential-cutoff", "1000");
            Assert.True(odd.ExitCode == 1 && odd.Stderr.Contains("sequential-cutoff"), odd.ToString());
            Assert.Equal("writeonly", daemon.Backings().Single().Mode); // nothing changed by the refusals

            var set = daemon.Json("backing-set", "--backing-id", "0", "--mode", "writearound", "--sequential-cutoff", "0")
                .Deserialize(ControlJsonContext.Default.BackingEntry)!;
            Assert.True((set.Mode, set.SequentialCutoff, set.ReadAdmission) == ("writearound", 0L, 1));
            Assert.Equal(0, daemon.Terminate());
        }
        using (var daemon = new TestDaemon(box))
        {
            daemon.Json("cache-start", "--path", pmem);
            var b = daemon.Backings().Single();
            Assert.True((b.Mode, b.State) == ("writearound", BackingStates.Running), $"{b.Mode} {b.State}");
            Assert.Equal("writearound", daemon.Stat(0).Mode);
            Assert.Equal(0, daemon.Terminate());
        }
    }

    [Fact]
    public void DataCrcCannotBeTurnedOnForBackingsCreatedWithoutIt()
    {
        using var box = new Sandbox();
        string pmem = box.PmemPath();
        using (var daemon = new TestDaemon(box))
        {
            daemon.Json("cache-start", "--path", pmem, "--size", "64M", "--format", "--force");
            daemon.Json("backing-start", "--path", box.SparseFile("disk.img", 16 << 20), "--cache-size", "16M");
            Assert.Equal(0, daemon.Terminate());
        }
        using (var daemon = new TestDaemon(box))
        {
            var refused = daemon.Cli("cache-start", "--path", pmem, "--data-crc");
            Assert.True(refused.ExitCode == 1 && refused.Stderr.Contains("created without data CRC"), refused.ToString());
            Assert.Empty(daemon.Json("cache-list").EnumerateArray());
            var b = daemon.Json("cache-start", "--path", pmem).GetProperty("backings")[0];
            Assert.False(b.GetProperty("data_crc").GetBoolean());
            Assert.Equal("running", b.GetProperty("state").GetString());
            Assert.Equal(0, daemon.Terminate());
        }
    }
}

using PCache.Client;
using PCache.Core;
using PCache.Engine.Layout;

namespace PCache.Module.Tests;

/// <summary>
/// The write-back pacing settings in the module: the cmdlets' ranges are the engine's, the running
/// daemon accepts exactly those, Set-PCacheBacking changes only what differs (with ShouldProcess),
/// Add-PCacheBacking compares them, and Get-PCacheStat shows what pacing does.
/// </summary>
public sealed class WritebackPacingTests(TestDaemon daemon) : IClassFixture<TestDaemon>
{
    [Fact]
    public void ParameterRangesAreTheEnginesAndNoneIsBoundFromThePipelineOnSet()
    {
        foreach (var cmdlet in new[] { "Add-PCacheBacking", "Set-PCacheBacking" })
        {
            var c = CmdletMetadata.Get(cmdlet);
            Assert.Equal(((object)WritebackPacing.WatermarkMin, (object)WritebackPacing.WatermarkMax), c.Parameter("WritebackWatermark").Range);
            Assert.Equal(((object)WritebackPacing.MaxAgeMin, (object)WritebackPacing.MaxAgeMax), c.Parameter("WritebackMaxAge").Range);
            Assert.Equal(((object)0L, (object)WritebackPacing.RateMax), c.Parameter("WritebackRate").Range);
        }
        Assert.Equal((0, 100, 0, 65535), (Limits.MinWritebackWatermark, Limits.MaxWritebackWatermark, Limits.MinWritebackMaxAge, Limits.MaxWritebackMaxAge));
        Assert.Equal(WritebackPacing.RateMax, Limits.MaxWritebackRate);
    }

    [Fact]
    public void TheDaemonAcceptsExactlyTheCmdletRanges()
    {
        var backing = daemon.NewBacking(daemon.NewCache());
        var client = daemon.Client();
        BackingEntry Set(int? wm = null, int? age = null, long? rate = null) =>
            client.SetBackingAsync(new BackingSetArgs { BackingId = backing.BackingId, WritebackWatermark = wm, WritebackMaxAge = age, WritebackRate = rate }).GetAwaiter().GetResult();
        void Invalid(Action call) => Assert.Equal(ErrorCodes.InvalidArgument, Assert.Throws<PCacheException>(call).Code);

        Assert.Equal(Limits.MaxWritebackWatermark, Set(wm: Limits.MaxWritebackWatermark).WritebackWatermark);
        Assert.Equal(Limits.MinWritebackWatermark, Set(wm: Limits.MinWritebackWatermark).WritebackWatermark);
        Assert.Equal(Limits.MaxWritebackMaxAge, Set(age: Limits.MaxWritebackMaxAge).WritebackMaxAge);
        Assert.Equal(Limits.MaxWritebackRate, Set(rate: Limits.MaxWritebackRate).WritebackRate);
        Invalid(() => Set(wm: Limits.MaxWritebackWatermark + 1));
        Invalid(() => Set(wm: Limits.MinWritebackWatermark - 1));
        Invalid(() => Set(age: Limits.MaxWritebackMaxAge + 1));
        Invalid(() => Set(rate: Limits.MaxWritebackRate + 1024));
        Invalid(() => Set(rate: -1024));
        var e = Assert.Throws<PCacheException>(() => Set(rate: 1000));
        // In PowerShell terms once translated: the option names the parameter.
        Assert.Contains("-WritebackRate", ErrorTranslator.InPowerShellTerms(e.Message));
    }

    [Fact]
    public void SetChangesOnlyWhatDiffersAsksFirstAndThenHasNothingToDo()
    {
        var backing = daemon.NewBacking(daemon.NewCache());
        Assert.Equal((50, 30, 0L), (backing.WritebackWatermark, backing.WritebackMaxAge, backing.WritebackRate));
        var wanted = new BackingSettings(WritebackWatermark: 20, WritebackMaxAge: 30, WritebackRate: 8L << 20);

        var whatIf = new RecordingSink(shouldProcess: false);
        BackingOperations.Set(daemon.Client(), whatIf, backing.BackingId, wanted, wait: false, passThru: true);
        Assert.Empty(whatIf.Objects);
        var action = Assert.Single(whatIf.ShouldProcessCalls).Action;
        Assert.Contains("WritebackWatermark from 50 to 20", action);
        Assert.Contains("WritebackRate from 0 to 8388608", action);
        Assert.DoesNotContain("WritebackMaxAge", action); // already 30
        Assert.DoesNotContain("GcPercent", action);

        var change = new RecordingSink();
        BackingOperations.Set(daemon.Client(), change, backing.BackingId, wanted, wait: false, passThru: true);
        change.AssertNoErrors();
        var changed = change.Single<Backing>();
        Assert.Equal((20, 30, 8L << 20, 70), (changed.WritebackWatermark, changed.WritebackMaxAge, changed.WritebackRate, changed.GcPercent));

        var again = new RecordingSink();
        BackingOperations.Set(daemon.Client(), again, backing.BackingId, wanted, wait: false, passThru: false);
        again.AssertNoErrors();
        Assert.Empty(again.ShouldProcessCalls);
        Assert.Contains(again.Verbose, v => v.Contains("nothing to do", StringComparison.Ordinal));
    }

    [Fact]
    public void AddComparesTheGivenPacingSettingsOnly()
    {
        var attached = new BackingEntry
        {
            BackingId = 3, BackingPath = "/dev/sdb", CacheId = 0, CacheSegs = 16, CacheSize = 16L << 20, CacheGcPercent = 70, Queues = 1,
            State = BackingStates.Running, WritebackWatermark = 50, WritebackMaxAge = 30, WritebackRate = 0,
        };
        Assert.Equal(AddBackingDecision.Existing, AddBackingPlan.For(new AddBackingRequest("/dev/sdb", 16L << 20), [attached]).Decision);
        Assert.Equal(AddBackingDecision.Existing,
            AddBackingPlan.For(new AddBackingRequest("/dev/sdb", 16L << 20, WritebackWatermark: 50, WritebackMaxAge: 30, WritebackRate: 0), [attached]).Decision);
        var plan = AddBackingPlan.For(new AddBackingRequest("/dev/sdb", 16L << 20, WritebackWatermark: 60, WritebackRate: 1024), [attached]);
        Assert.Equal(AddBackingDecision.Conflict, plan.Decision);
        Assert.Equal(["WritebackWatermark is 50, not 60", "WritebackRate is 0, not 1024"], plan.Differences);
    }

    [Fact]
    public void AddPassesThePacingSettingsAndStatShowsWhatPacingDoes()
    {
        var cache = daemon.NewCache();
        var sink = new RecordingSink();
        string path = daemon.SparseFile(64L << 20);
        BackingOperations.Add(daemon.Client(), sink,
            new AddBackingRequest(path, 16L << 20, cache.CacheId, WritebackWatermark: 100, WritebackMaxAge: 0, WritebackRate: 1024));
        sink.AssertNoErrors();
        var backing = sink.Single<Backing>();
        Assert.Equal((100, 0, 1024L), (backing.WritebackWatermark, backing.WritebackMaxAge, backing.WritebackRate));

        var stats = new RecordingSink();
        StatOperations.Get(daemon.Client(), stats, backing.BackingId);
        var stat = stats.Single<Stat>();
        Assert.Equal("idle", stat.WritebackState);
        Assert.Equal((100, 0, 1024L), (stat.WritebackWatermark, stat.WritebackMaxAge, stat.WritebackRate));
        Assert.Equal(0, stat.DirtyPercent);
        Assert.Equal(0, stat.WritebackIdleKsets);
    }
}

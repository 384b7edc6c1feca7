using PCache.Client;
using PCache.Core;

namespace PCache.Module.Tests;

/// <summary>Add-PCacheBacking's idempotency decisions, from a backing list.</summary>
public sealed class AddBackingPlanTests
{
    private static BackingEntry Attached(string state = BackingStates.Running) => new()
    {
        BackingId = 3, BackingPath = "/dev/sdb", CacheId = 0, CacheSegs = 16, CacheSize = 16L << 20,
        CacheGcPercent = 70, Queues = 1, PersistOnWrite = false, State = state,
    };

    [Fact]
    public void AnUnknownPathIsStarted()
    {
        var plan = AddBackingPlan.For(new AddBackingRequest("/dev/sdc", 16L << 20), [Attached()]);
        Assert.Equal(AddBackingDecision.Start, plan.Decision);
        Assert.Null(plan.Existing);
    }

    [Theory]
    [InlineData(16L << 20)]
    [InlineData((15L << 20) + 1)] // rounded up to the same 16 segments by the daemon
    public void TheSameSettingsReturnTheAttachedBacking(long cacheSize)
    {
        var plan = AddBackingPlan.For(new AddBackingRequest("/dev/sdb", cacheSize, 0, 70, 1, false), [Attached()]);
        Assert.Equal(AddBackingDecision.Existing, plan.Decision);
        Assert.Equal(3, plan.Existing!.BackingId);
        Assert.Empty(plan.Differences);
    }

    [Fact]
    public void SettingsLeftOutAreNotCompared()
    {
        var attached = Attached();
        attached.CacheGcPercent = 50;
        attached.Queues = 8;
        attached.PersistOnWrite = true;
        Assert.Equal(AddBackingDecision.Existing, AddBackingPlan.For(new AddBackingRequest("/dev/sdb", 16L << 20), [attached]).Decision);
    }

    [Fact]
    public void EveryDifferingSettingIsNamed()
    {
        var plan = AddBackingPlan.For(new AddBackingRequest("/dev/sdb", 32L << 20, 0, 50, 4, true), [Attached()]);
        Assert.Equal(AddBackingDecision.Conflict, plan.Decision);
        Assert.Equal(4, plan.Differences.Count);
        Assert.Contains(plan.Differences, d => d.StartsWith("CacheSize is 16 MiB, not 32 MiB", StringComparison.Ordinal));
        Assert.Contains(plan.Differences, d => d.StartsWith("GcPercent is 70, not 50", StringComparison.Ordinal));
        Assert.Contains(plan.Differences, d => d.StartsWith("Queues is 1, not 4", StringComparison.Ordinal));
        Assert.Contains(plan.Differences, d => d.StartsWith("PersistOnWrite is False, not True", StringComparison.Ordinal));
    }

    [Fact]
    public void ABackingOnAnotherCacheConflicts()
    {
        var plan = AddBackingPlan.For(new AddBackingRequest("/dev/sdb", 16L << 20, CacheId: 1), [Attached()]);
        Assert.Equal(AddBackingDecision.Conflict, plan.Decision);
        Assert.Contains("cache 0, not cache 1", Assert.Single(plan.Differences));
    }

    [Theory]
    [InlineData(BackingStates.Refused)]
    [InlineData(BackingStates.Unavailable)]
    public void ABackingThatIsNotAttachedIsLeftToTheDaemonToReattach(string state)
    {
        var plan = AddBackingPlan.For(new AddBackingRequest("/dev/sdb", 64L << 20), [Attached(state)]);
        Assert.Equal(AddBackingDecision.Start, plan.Decision);
        Assert.Equal(3, plan.Existing!.BackingId);
    }

    [Fact]
    public void ADrainingBackingConflicts() =>
        Assert.Equal(AddBackingDecision.Conflict, AddBackingPlan.For(new AddBackingRequest("/dev/sdb", 16L << 20), [Attached(BackingStates.Draining)]).Decision);
}

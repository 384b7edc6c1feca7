using System.Reflection;
using PCache.Client;
using PCache.Core;

namespace PCache.Module.Tests;

/// <summary>Get-PCacheStat (snapshots and -Continuous samples) and Clear-PCacheStat against a real daemon.</summary>
public sealed class StatOperationTests(TestDaemon daemon) : IClassFixture<TestDaemon>
{
    /// <summary>A MiB written and read through the export, then Get-PCacheStat's object and the daemon's figures just after.</summary>
    private async Task<(Stat Stat, BackingStatistics Fresh)> IoThenStatAsync(Backing backing)
    {
        NbdIo.Write(backing, 1 << 20);
        NbdIo.Read(backing, 1 << 20);
        var sink = new RecordingSink();
        StatOperations.Get(daemon.Client(), sink, backing.BackingId);
        var stat = sink.Single<Stat>();
        var fresh = (await daemon.Client().StatAsync(new StatArgs { BackingId = backing.BackingId })).Backings.Single();
        return (stat, fresh);
    }

    /// <summary>The property name for a daemon name: read_hit_bytes is ReadHitBytes.</summary>
    private static string Pascal(string name) => string.Concat(name.Split('_').Select(w => char.ToUpperInvariant(w[0]) + w[1..]));

    [Fact]
    public async Task EveryCounterTheDaemonReportsIsANumericProperty()
    {
        var backing = daemon.NewBacking(daemon.NewCache());
        var raw = (await daemon.Client().StatAsync(new StatArgs { BackingId = backing.BackingId })).Backings.Single();
        Assert.Equal(raw.Counters.Keys.Order(), Stat.CounterNames.Order());

        var (stat, fresh) = await IoThenStatAsync(backing);
        foreach (string name in Stat.CounterNames)
        {
            string pascal = Pascal(name);
            var property = typeof(Stat).GetProperty(pascal, BindingFlags.Public | BindingFlags.Instance);
            Assert.True(property is not null && property.PropertyType == typeof(long), $"counter {name} has no long property {pascal}");
            Assert.InRange((long)property.GetValue(stat)!, 0, fresh.Counters[name]);
        }
        Assert.Equal(1L << 20, stat.WriteBytes);
        Assert.Equal(1L << 20, stat.ReadBytes);
        Assert.InRange(stat.ReadHitRatio, 0.0, 1.0);
        Assert.Equal(backing.Path, stat.Path);
        // A DateTimeOffset carries its zone into Export-Csv and ConvertTo-Json ("+00:00").
        Assert.Equal(TimeSpan.Zero, stat.Timestamp.Offset);
        Assert.Equal(daemon.SocketPath, stat.SocketPath);
    }

    [Fact]
    public async Task LatencyPercentilesOfEveryOperationAreDoublePropertiesThatFollowTheDaemonAndClearResetsThem()
    {
        var backing = daemon.NewBacking(daemon.NewCache());
        var raw = (await daemon.Client().StatAsync(new StatArgs { BackingId = backing.BackingId })).Backings.Single();
        Assert.Equal(raw.Latency.Keys.Order(), Stat.LatencyOps.Order());
        Assert.All(raw.Latency.Values, l => Assert.Equal(0, l.Count));

        var (stat, fresh) = await IoThenStatAsync(backing);
        foreach (string op in Stat.LatencyOps)
        {
            string pascal = Pascal(op);
            foreach (var (suffix, value) in new[] { ("P50", fresh.Latency[op].P50Microseconds), ("P99", fresh.Latency[op].P99Microseconds), ("P999", fresh.Latency[op].P999Microseconds) })
            {
                var property = typeof(Stat).GetProperty($"{pascal}{suffix}Microseconds", BindingFlags.Public | BindingFlags.Instance);
                Assert.True(property is not null && property.PropertyType == typeof(double), $"{op} has no double property {pascal}{suffix}Microseconds");
                Assert.Equal(value, (double)property.GetValue(stat)!);
            }
        }
        Assert.True(fresh.Latency["write"].Count > 0 && fresh.Latency["read"].Count > 0, "no latency recorded for nbdcopy and qemu-io");
        Assert.InRange(stat.WriteP50Microseconds, 0.001, stat.WriteP99Microseconds);
        Assert.InRange(stat.ReadP99Microseconds, stat.ReadP50Microseconds, stat.ReadP999Microseconds);

        StatOperations.Clear(daemon.Client(), new RecordingSink(), backing.BackingId, passThru: false);
        var cleared = (await daemon.Client().StatAsync(new StatArgs { BackingId = backing.BackingId })).Backings.Single();
        Assert.All(cleared.Latency.Values, l => Assert.Equal(0, l.Count));
    }

    [Fact]
    public void WithoutAnIdEveryBackingIsReportedAndAMissingIdIsNotFound()
    {
        var a = daemon.NewBacking(daemon.NewCache());
        var all = new RecordingSink();
        StatOperations.Get(daemon.Client(), all, null);
        Assert.Contains(a.BackingId, all.All<Stat>().Select(s => s.BackingId));

        var missing = new RecordingSink();
        StatOperations.Get(daemon.Client(), missing, 6543);
        Assert.Equal(6543, missing.SingleError(ErrorTranslator.BackingNotFoundId).Target);
    }

    [Fact]
    public void ClearZeroesTheCountersAndPassThruShowsWhatTheyWere()
    {
        var backing = daemon.NewBacking(daemon.NewCache());
        NbdIo.Write(backing, 1 << 20);

        var whatIf = new RecordingSink(shouldProcess: false);
        StatOperations.Clear(daemon.Client(), whatIf, backing.BackingId, passThru: true);
        Assert.Empty(whatIf.Objects);
        Assert.Equal($"backing {backing.BackingId}", Assert.Single(whatIf.ShouldProcessCalls).Target);

        var clear = new RecordingSink();
        StatOperations.Clear(daemon.Client(), clear, backing.BackingId, passThru: true);
        clear.AssertNoErrors();
        Assert.Equal(1L << 20, clear.Single<Stat>().WriteBytes);

        var after = new RecordingSink();
        StatOperations.Get(daemon.Client(), after, backing.BackingId);
        var s = after.Single<Stat>();
        Assert.Equal(0, s.WriteBytes);
        Assert.Equal(0, s.WriteRequests);
    }

    [Fact]
    public void ContinuousWritesOneSamplePerBackingPerIntervalUpToMaxSamples()
    {
        var a = daemon.NewBacking(daemon.NewCache());
        var b = daemon.NewBacking(daemon.NewCache());
        var sink = new RecordingSink();
        StatOperations.Watch(daemon.Client(), sink, [a.BackingId, b.BackingId], intervalSeconds: 1, maxSamples: 2);
        sink.AssertNoErrors();
        var samples = sink.All<StatSample>();
        Assert.Equal(4, samples.Count);
        Assert.Equal([a.BackingId, b.BackingId, a.BackingId, b.BackingId], samples.Select(s => s.BackingId));
        Assert.All(samples, s => Assert.True(s.IntervalSeconds > 0));
        Assert.True(samples[2].Timestamp > samples[0].Timestamp);
        Assert.All(samples, s => Assert.Equal(0.0, s.WriteBytesPerSecond));
    }

    [Fact]
    public void ContinuousRatesCountWhatHappenedInTheInterval()
    {
        var backing = daemon.NewBacking(daemon.NewCache());
        // Writing while the first sample is handed over puts the write in the second interval and
        // in no other: the operation waits for the sink before it starts the next interval.
        int seen = 0;
        var sink = new RecordingSink
        {
            OnObject = _ =>
            {
                if (++seen == 1) NbdIo.Write(backing, 1 << 20);
            },
        };
        StatOperations.Watch(daemon.Client(), sink, [backing.BackingId], intervalSeconds: 1, maxSamples: 3);
        var samples = sink.All<StatSample>();
        Assert.Equal(3, samples.Count);
        Assert.Equal(0.0, samples[0].WriteBytesPerSecond);
        Assert.Equal(1L << 20, samples[1].WriteBytesPerSecond * samples[1].IntervalSeconds, precision: 3);
        Assert.True(samples[1].WriteRequestsPerSecond > 0);
        Assert.Equal(0.0, samples[2].WriteBytesPerSecond);
    }

    [Fact]
    public void CtrlCEndsContinuousSampling()
    {
        var backing = daemon.NewBacking(daemon.NewCache());
        using var ctrlC = new CancellationTokenSource();
        var sink = new RecordingSink(stopping: ctrlC.Token) { OnObject = _ => ctrlC.Cancel() };
        Assert.ThrowsAny<OperationCanceledException>(() => StatOperations.Watch(daemon.Client(), sink, [backing.BackingId], 1, maxSamples: null));
        Assert.Single(sink.Objects);
    }

    [Fact]
    public void ContinuousWithOnlyMissingBackingsReportsThemAndStops()
    {
        var sink = new RecordingSink();
        StatOperations.Watch(daemon.Client(), sink, [7777], 1, maxSamples: null);
        Assert.Equal(7777, sink.SingleError(ErrorTranslator.BackingNotFoundId).Target);
        Assert.Empty(sink.Objects);
    }
}

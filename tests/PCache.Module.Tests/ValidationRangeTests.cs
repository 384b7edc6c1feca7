using PCache.Core;
using PCache.Engine.Cache;
using PCache.Engine.Layout;

namespace PCache.Module.Tests;

/// <summary>
/// [ValidateRange] on every numeric parameter equals what the daemon accepts, taken from the
/// engine's own constants (the daemon checks the same ones). DaemonLimitTests probes the running
/// daemon at the same boundaries.
/// </summary>
public sealed class ValidationRangeTests
{
    [Theory]
    [MemberData(nameof(CmdletConventionTests.Cmdlets), MemberType = typeof(CmdletConventionTests))]
    public void EveryNumericParameterHasARange(string name)
    {
        foreach (var p in CmdletMetadata.Get(name).Parameters)
        {
            var t = Nullable.GetUnderlyingType(p.Type) ?? (p.Type.IsArray ? p.Type.GetElementType()! : p.Type);
            if (t == typeof(int) || t == typeof(long))
                Assert.True(p.Range is not null, $"{name} -{p.Name} is numeric without [ValidateRange]");
        }
    }

    [Theory]
    [MemberData(nameof(CmdletConventionTests.Cmdlets), MemberType = typeof(CmdletConventionTests))]
    public void IdsStartAtZero(string name)
    {
        foreach (var p in CmdletMetadata.Get(name).Parameters.Where(p => p.Name.EndsWith("Id", StringComparison.Ordinal)))
            Assert.Equal(((object)0, (object)int.MaxValue), p.Range);
    }

    [Fact]
    public void GcPercentIsTheEnginesRange()
    {
        foreach (var cmdlet in new[] { "Add-PCacheBacking", "Set-PCacheBacking" })
            Assert.Equal(((object)BackingInfo.GcPercentMin, (object)BackingInfo.GcPercentMax), CmdletMetadata.Get(cmdlet).Parameter("GcPercent").Range);
        Assert.Equal((0, 90), (BackingInfo.GcPercentMin, BackingInfo.GcPercentMax));
    }

    [Fact]
    public void ModeAndAdmissionAreTheEnginesChoices()
    {
        Assert.Equal(CacheModes.Names, Limits.Modes);
        Assert.Equal(Enum.GetValues<CacheMode>().Select(m => m.Name()), Limits.Modes);
        foreach (var cmdlet in new[] { "Add-PCacheBacking", "Set-PCacheBacking" })
        {
            var c = CmdletMetadata.Get(cmdlet);
            var set = c.Parameter("Mode").Attribute<System.Management.Automation.ValidateSetAttribute>()!;
            Assert.Equal(Limits.Modes, ((IEnumerable<System.Reflection.CustomAttributeTypedArgument>)set.ConstructorArguments[0].Value!).Select(a => (string)a.Value!));
            Assert.Equal(((object)0L, (object)BackingCache.MaxSequentialCutoff), c.Parameter("SequentialCutoff").Range);
            Assert.Equal(((object)0, (object)15), c.Parameter("ReadAdmission").Range);
        }
        Assert.Equal(BackingCache.MaxSequentialCutoff, Limits.MaxSequentialCutoff);
    }

    [Fact]
    public void CacheDeviceSizesAreTheEnginesLimits()
    {
        foreach (var cmdlet in new[] { "Start-PCacheCache", "Initialize-PCacheCache" })
        {
            var c = CmdletMetadata.Get(cmdlet);
            Assert.Equal(((object)CacheDevice.MinimumSize(Geometry.MinSegmentShift), (object)long.MaxValue), c.Parameter("Size").Range);
            Assert.Equal(((object)(1L << Geometry.MinSegmentShift), (object)(1L << Geometry.MaxSegmentShift)), c.Parameter("SegmentSize").Range);
        }
    }

    [Fact]
    public void BackingSettingsHaveTheDaemonsLimits()
    {
        var add = CmdletMetadata.Get("Add-PCacheBacking");
        // 1MB once passed validation and failed at the daemon: six 1 MiB segments is the floor.
        Assert.Equal(((object)(6L << 20), (object)long.MaxValue), add.Parameter("CacheSize").Range);
        Assert.Equal(((object)Limits.MinQueues, (object)Limits.MaxQueues), add.Parameter("Queues").Range);
        Assert.Equal((1, 1024), (Limits.MinQueues, Limits.MaxQueues));
    }

    [Fact]
    public void StatisticsIntervalsAreAtLeastOneSecond()
    {
        var stat = CmdletMetadata.Get("Get-PCacheStat");
        Assert.Equal(((object)1, (object)86400), stat.Parameter("Interval").Range);
        Assert.Equal(((object)1, (object)int.MaxValue), stat.Parameter("MaxSamples").Range);
        Assert.Equal(((object)0, (object)int.MaxValue), CmdletMetadata.Get("Sync-PCacheBacking").Parameter("TimeoutSec").Range);
    }
}

using System.Reflection;

namespace PCache.Module.Tests;

/// <summary>
/// The pipelines the module promises, checked as PowerShell binds by property name: each
/// upstream object's properties meet the downstream cmdlet's ValueFromPipelineByPropertyName
/// parameters (or their aliases); every mandatory parameter gets a value; and no property binds
/// a parameter it should not (a cache's Path must not filter its backings away).
/// </summary>
public sealed class PipelineBindingTests
{
    /// <summary>Upstream type, downstream cmdlet, the parameters its objects bind.</summary>
    public static TheoryData<Type, string, string[]> Pipelines() => new()
    {
        { typeof(Backing), "Get-PCacheStat", ["BackingId", "SocketPath"] },
        { typeof(Cache), "Get-PCacheBacking", ["CacheId", "SocketPath"] },
        { typeof(Backing), "Remove-PCacheBacking", ["BackingId", "SocketPath"] },
        { typeof(Backing), "Sync-PCacheBacking", ["BackingId", "SocketPath"] },
        { typeof(Backing), "Set-PCacheBacking", ["BackingId", "SocketPath"] },
        // Clear-PCacheStat and Stop-PCacheCache take their objects by value (-InputObject), never an
        // id by property name: a piped cache once cleared every backing, a piped backing stopped its cache.
        { typeof(Backing), "Clear-PCacheStat", ["SocketPath"] },
        { typeof(Cache), "Clear-PCacheStat", ["SocketPath"] },
        { typeof(Backing), "Stop-PCacheCache", ["SocketPath"] },
        { typeof(Backing), "Get-PCacheCache", ["CacheId", "SocketPath"] },
        { typeof(Cache), "Stop-PCacheCache", ["SocketPath"] },
        { typeof(Stat), "Get-PCacheBacking", ["BackingId", "CacheId", "SocketPath"] },
        { typeof(StatSample), "Get-PCacheBacking", ["BackingId", "CacheId", "SocketPath"] },
        { typeof(Backing), "Get-PCacheBacking", ["BackingId", "CacheId", "SocketPath"] },
        // Copying backings to another daemon: Get-PCacheBacking | Add-PCacheBacking -SocketPath other.
        { typeof(Backing), "Add-PCacheBacking", ["Path", "CacheSize", "CacheId", "GcPercent", "Queues", "SocketPath",
            "WritebackWatermark", "WritebackMaxAge", "WritebackRate", "Mode", "SequentialCutoff", "ReadAdmission"] },
    };

    [Theory]
    [MemberData(nameof(Pipelines))]
    public void UpstreamObjectsBindTheRightParameters(Type upstream, string downstream, string[] expected)
    {
        var cmdlet = CmdletMetadata.Get(downstream);
        var properties = upstream.GetProperties(BindingFlags.Public | BindingFlags.Instance).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        var bound = cmdlet.Parameters
            .Where(p => p.ByPropertyName)
            .Select(p => (Parameter: p, Property: new[] { p.Name }.Concat(p.Aliases).Select(n => properties.GetValueOrDefault(n)).FirstOrDefault(x => x is not null)))
            .Where(x => x.Property is not null)
            .ToList();
        Assert.Equal(expected.Order(), bound.Select(b => b.Parameter.Name).Order());
        foreach (var (parameter, property) in bound)
        {
            var target = Nullable.GetUnderlyingType(parameter.Type) ?? (parameter.Type.IsArray ? parameter.Type.GetElementType()! : parameter.Type);
            Assert.True(target.IsAssignableFrom(property!.PropertyType), $"{upstream.Name}.{property.Name} ({property.PropertyType}) cannot bind -{parameter.Name} ({parameter.Type})");
        }
        // Set-PCacheBacking's -GcPercent is the one mandatory value a pipeline never supplies: it is the change.
        var mandatory = cmdlet.Parameters.Where(p => p.Sets.Any(s => s.Mandatory && s.Name is ParameterInfo.AllSets or "Snapshot") && p.Name != "GcPercent").Select(p => p.Name);
        Assert.All(mandatory, m => Assert.Contains(m, bound.Select(b => b.Parameter.Name)));
    }

    [Theory]
    [InlineData("Stop-PCacheCache", typeof(Cache[]))]
    [InlineData("Clear-PCacheStat", typeof(System.Management.Automation.PSObject[]))]
    public void CrossNounInputIsTakenByValueOnly(string cmdlet, Type inputType)
    {
        var input = CmdletMetadata.Get(cmdlet).Parameter("InputObject");
        Assert.Equal(inputType, input.Type);
        Assert.Contains(input.Sets, s => s.Name == "InputObject" && s.Mandatory);
    }

    [Fact]
    public void GetPCacheBackingDoesNotBindPathFromThePipeline() =>
        Assert.False(CmdletMetadata.Get("Get-PCacheBacking").Parameter("Path").ByPropertyName);

    [Fact]
    public void ContinuousStatisticsAreTheirOwnParameterSetWithItsOwnOutputType()
    {
        var c = CmdletMetadata.Get("Get-PCacheStat");
        Assert.Equal("Snapshot", c.DefaultParameterSetName);
        Assert.Contains(c.OutputTypes, o => o.Type == typeof(Stat) && o.ParameterSets.SequenceEqual(["Snapshot"]));
        Assert.Contains(c.OutputTypes, o => o.Type == typeof(StatSample) && o.ParameterSets.SequenceEqual(["Continuous"]));
        var continuous = Assert.Single(c.Parameter("Continuous").Sets);
        Assert.True(continuous.Mandatory);
        Assert.Equal("Continuous", continuous.Name);
        Assert.Equal("Continuous", Assert.Single(c.Parameter("Interval").Sets).Name);
        Assert.Equal("Continuous", Assert.Single(c.Parameter("MaxSamples").Sets).Name);
    }
}

using System.Text.Json;
using PCache.Core;

namespace PCache.Module.Tests;

/// <summary>
/// The DSC v3 resource manifests in packaging/dsc: well-formed, every operation runs
/// `pcache dsc RESOURCE OPERATION` with the instance on stdin, and the embedded instance schemas
/// hold the limits the daemon enforces.
/// </summary>
public sealed class DscManifestTests
{
    public static TheoryData<string, string, string> Manifests() => new()
    {
        { "pcache.cache.dsc.resource.json", "PCache/Cache", "cache" },
        { "pcache.backing.dsc.resource.json", "PCache/Backing", "backing" },
    };

    private static JsonElement Load(string file) =>
        JsonDocument.Parse(File.ReadAllText(Repo.PathOf("packaging", "dsc", file))).RootElement;

    [Theory]
    [MemberData(nameof(Manifests))]
    public void OperationsRunThePcacheDscVerb(string file, string type, string resource)
    {
        var m = Load(file);
        Assert.Equal("https://aka.ms/dsc/schemas/v3/bundled/resource/manifest.json", m.GetProperty("$schema").GetString());
        Assert.Equal(type, m.GetProperty("type").GetString());
        Assert.Matches(@"^\d+\.\d+\.\d+$", m.GetProperty("version").GetString());
        foreach (var op in new[] { "get", "set", "test", "export" })
        {
            var o = m.GetProperty(op);
            Assert.Equal("pcache", o.GetProperty("executable").GetString());
            Assert.Equal(["dsc", resource, op], o.GetProperty("args").EnumerateArray().Select(a => a.GetString()));
            Assert.Equal("stdin", o.GetProperty("input").GetString());
        }
        Assert.True(m.GetProperty("set").GetProperty("handlesExist").GetBoolean());
        Assert.Equal("stateAndDiff", m.GetProperty("test").GetProperty("return").GetString());
        Assert.Equal("Success", m.GetProperty("exitCodes").GetProperty("0").GetString());
    }

    public static TheoryData<string> Files() => ["pcache.cache.dsc.resource.json", "pcache.backing.dsc.resource.json"];

    [Theory]
    [MemberData(nameof(Files))]
    public void TheInstanceSchemaIsKeyedByPathAndKnowsExistence(string file)
    {
        var schema = Load(file).GetProperty("schema").GetProperty("embedded");
        Assert.Equal(["path"], schema.GetProperty("required").EnumerateArray().Select(a => a.GetString()));
        Assert.False(schema.GetProperty("additionalProperties").GetBoolean());
        var props = schema.GetProperty("properties");
        Assert.Equal("boolean", props.GetProperty("_exist").GetProperty("type").GetString());
        Assert.True(props.TryGetProperty("_inDesiredState", out _), "a resource that implements test reports _inDesiredState");
        Assert.True(props.TryGetProperty("socket", out _));
    }

    [Fact]
    public void BackingLimitsAreTheDaemons()
    {
        var props = Load("pcache.backing.dsc.resource.json").GetProperty("schema").GetProperty("embedded").GetProperty("properties");
        Assert.Equal(Limits.MinGcPercent, props.GetProperty("gcPercent").GetProperty("minimum").GetInt32());
        Assert.Equal(Limits.MaxGcPercent, props.GetProperty("gcPercent").GetProperty("maximum").GetInt32());
        Assert.Equal(Limits.MinQueues, props.GetProperty("queues").GetProperty("minimum").GetInt32());
        Assert.Equal(Limits.MaxQueues, props.GetProperty("queues").GetProperty("maximum").GetInt32());
        Assert.Equal(Limits.MinId, props.GetProperty("cacheId").GetProperty("minimum").GetInt32());
        Assert.Equal(Limits.MaxWritebackWatermark, props.GetProperty("writebackWatermark").GetProperty("maximum").GetInt32());
        Assert.Equal(Limits.MaxWritebackMaxAge, props.GetProperty("writebackMaxAge").GetProperty("maximum").GetInt32());
        Assert.Equal(Limits.MaxWritebackRate, props.GetProperty("writebackRate").GetProperty("maximum").GetInt64());
        Assert.Equal(PCache.Client.BackingStates.Running, props.GetProperty("state").GetProperty("enum")[0].GetString());
    }

    [Fact]
    public void CacheLimitsAreTheDaemons()
    {
        var props = Load("pcache.cache.dsc.resource.json").GetProperty("schema").GetProperty("embedded").GetProperty("properties");
        Assert.Equal(Limits.MinCacheDeviceSize, props.GetProperty("size").GetProperty("minimum").GetInt64());
        Assert.Equal(Limits.MinSegmentSize, props.GetProperty("segmentSize").GetProperty("minimum").GetInt64());
        Assert.Equal(Limits.MaxSegmentSize, props.GetProperty("segmentSize").GetProperty("maximum").GetInt64());
    }
}

using System.Text.Json;
using System.Text.Json.Serialization;
using PCache.Client;

namespace PCache.Daemon;

/// <summary>
/// The config file (/etc/pcache/pcache.conf): JSON with comments and trailing commas allowed.
/// Daemon settings, then the cache devices to start at boot and the backings each should have.
/// Command-line options win over the file. See docs/daemon.md and packaging/pcache.conf.example.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed class DaemonConfig
{
    public string? Socket { get; set; }

    public string? NbdSocket { get; set; }

    public string? NbdListen { get; set; }

    /// <summary>Members of this group may use the control socket (it also owns the sockets).</summary>
    public string? Group { get; set; }

    /// <summary>Octal file mode of the sockets, "0660" by default.</summary>
    public string? SocketMode { get; set; }

    /// <summary>Seconds a stop waits for NBD clients and requests in flight (default 30).</summary>
    public int? StopTimeout { get; set; }

    /// <summary>Seconds after which a request is logged and counted as stuck (default 10).</summary>
    public int? StuckAfter { get; set; }

    /// <summary>Serve OpenMetrics/Prometheus text at http://ADDRESS/metrics: "127.0.0.1:9479" or "unix:/run/pcache/metrics.sock" (default: off).</summary>
    public string? MetricsListen { get; set; }

    public List<CacheConfig> Caches { get; set; } = [];

    public static DaemonConfig Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DaemonStartException($"cannot read the config file {path}: {e.Message}");
        }
        try
        {
            var config = JsonSerializer.Deserialize(bytes, ConfigJsonContext.Default.DaemonConfig)
                ?? throw new DaemonStartException($"config file {path}: it is empty (null)");
            config.Validate(path);
            return config;
        }
        catch (JsonException e)
        {
            string where = e.LineNumber is { } line ? $"line {line + 1}: " : "";
            throw new DaemonStartException($"config file {path}: {where}{Control.JsonErrors.Describe(e, "")}");
        }
    }

    private void Validate(string path)
    {
        for (int i = 0; i < Caches.Count; i++)
        {
            var c = Caches[i];
            if (string.IsNullOrWhiteSpace(c.Path)) throw new DaemonStartException($"config file {path}: caches[{i}] needs a \"path\"");
            for (int j = 0; j < c.Backings.Count; j++)
            {
                var b = c.Backings[j];
                if (string.IsNullOrWhiteSpace(b.Path)) throw new DaemonStartException($"config file {path}: caches[{i}].backings[{j}] needs a \"path\"");
                if (b.CacheSize is not > 0) throw new DaemonStartException($"config file {path}: caches[{i}].backings[{j}] needs a \"cache_size\" (e.g. \"50G\")");
            }
        }
    }
}

/// <summary>A cache device to start with the daemon; its recorded backings are re-attached.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed class CacheConfig
{
    public string Path { get; set; } = "";

    /// <summary>Create a file of this size when the path does not exist (a file standing in for pmem).</summary>
    [JsonConverter(typeof(SizeJsonConverter))]
    public long? Size { get; set; }

    /// <summary>Format the device when it is blank (all zero, no signature): the first start on a new device.</summary>
    public bool FormatIfBlank { get; set; }

    public bool DataCrc { get; set; }

    [JsonConverter(typeof(SizeJsonConverter))]
    public long? SegmentSize { get; set; }

    /// <summary>Backings this cache should have: created when the cache does not record their path yet.</summary>
    public List<BackingConfig> Backings { get; set; } = [];
}

/// <summary>A backing to create on its cache when the cache does not record it yet.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed class BackingConfig
{
    public string Path { get; set; } = "";

    [JsonConverter(typeof(SizeJsonConverter))]
    public long? CacheSize { get; set; }

    public int? GcPercent { get; set; }

    public int? Queues { get; set; }

    public bool PersistOnWrite { get; set; }

    /// <summary>Write-back pacing: dirty % above which write-back runs at full speed (0..100, default 50).</summary>
    public int? WritebackWatermark { get; set; }

    /// <summary>Write-back pacing: seconds after which dirty data is written back even while busy (0..65535, default 30; 0 = no bound).</summary>
    public int? WritebackMaxAge { get; set; }

    /// <summary>Write-back pacing: bytes/s below the watermark, a number or a string such as "100M" (default 0 = unlimited).</summary>
    [JsonConverter(typeof(SizeJsonConverter))]
    public long? WritebackRate { get; set; }

    /// <summary>Cache mode; applied to a recorded backing too, at every start.</summary>
    public string? Mode { get; set; }

    /// <summary>Sequential cutoff ("4M"; 0 = off); the daemon does not record it, so the config sets it at every start.</summary>
    [JsonConverter(typeof(SizeJsonConverter))]
    public long? SequentialCutoff { get; set; }

    public int? ReadAdmission { get; set; }
}

/// <summary>Sizes in the config file: a number of bytes or a string such as "50G" or "512MiB".</summary>
internal sealed class SizeJsonConverter : JsonConverter<long?>
{
    public override long? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long n) && n >= 0) return n;
        if (reader.TokenType == JsonTokenType.String)
        {
            if (ByteSize.TryParse(reader.GetString(), out long bytes, out string error)) return bytes;
            throw new JsonException(error);
        }
        throw new JsonException("a size is a number of bytes or a string such as \"50G\"");
    }

    public override void Write(Utf8JsonWriter writer, long? value, JsonSerializerOptions options)
    {
        if (value is { } v) writer.WriteNumberValue(v);
        else writer.WriteNullValue();
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true)]
[JsonSerializable(typeof(DaemonConfig))]
internal sealed partial class ConfigJsonContext : JsonSerializerContext
{
}

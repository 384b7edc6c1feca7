using System.Text.Json.Serialization;

namespace PCache.Client;

// Arguments of each verb: the "args" object of a request line. Unknown fields are refused so a
// misspelt option never passes silently; sizes are plain byte counts.

/// <summary>Arguments of verbs that take none (ping, cache-list).</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed class NoArgs
{
}

/// <summary>cache-start: open (and with Size, create) a cache device; Format writes a new one.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed class CacheStartArgs
{
    [JsonRequired]
    public string Path { get; set; } = "";

    /// <summary>Create a regular file of this many bytes when the path does not exist.</summary>
    public long? Size { get; set; }

    /// <summary>Write a new, empty cache device (refused on a device holding data unless Force).</summary>
    public bool Format { get; set; }

    public bool Force { get; set; }

    /// <summary>Backings created on this cache keep a CRC of their data (recorded per backing).</summary>
    public bool DataCrc { get; set; }

    /// <summary>Segment size when formatting (a power of two, 1 MiB..1 GiB); default scales with the device.</summary>
    public long? SegmentSize { get; set; }
}

/// <summary>cache-stop: stop every backing of a cache (dirty data stays in pmem) and release the device.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed class CacheStopArgs
{
    [JsonRequired]
    public int CacheId { get; set; }
}

/// <summary>The settings a backing is started with and a running backing can change (null: not given).</summary>
public abstract class BackingTuningArgs
{
    /// <summary>GC starts when this percentage of the backing's segments is in use (0..90, default 70).</summary>
    public int? GcPercent { get; set; }

    /// <summary>Write-back pacing: dirty % of the backing's cache above which write-back runs at full speed (0..100, default 50; 0 = always).</summary>
    public int? WritebackWatermark { get; set; }

    /// <summary>Write-back pacing: dirty data older than this many seconds is written back even while busy (0..65535, default 30; 0 = no bound).</summary>
    public int? WritebackMaxAge { get; set; }

    /// <summary>Write-back pacing: bytes/s below the watermark, a multiple of 1024 (default 0 = unlimited).</summary>
    public long? WritebackRate { get; set; }

    /// <summary>Cache mode: writeback (default), writethrough, writearound, writeonly or passthrough.</summary>
    public string? Mode { get; set; }

    /// <summary>Bytes after which a sequential stream bypasses the cache (0 = off).</summary>
    public long? SequentialCutoff { get; set; }

    /// <summary>Earlier misses a 64 KiB block needs before a read miss fills it (0 = off, up to 15).</summary>
    public int? ReadAdmission { get; set; }
}

/// <summary>backing-start: cache a backing device in a share of a started cache device.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed class BackingStartArgs : BackingTuningArgs
{
    [JsonRequired]
    public string Path { get; set; } = "";

    /// <summary>Bytes of the cache device for this backing (rounded up to whole segments).</summary>
    [JsonRequired]
    public long CacheSize { get; set; }

    /// <summary>Cache device to use; default 0.</summary>
    public int? CacheId { get; set; }

    /// <summary>Recorded with the backing (pcache-utils compatibility); NBD connections do not depend on it.</summary>
    public int? Queues { get; set; }

    /// <summary>Every write is durable before it is acknowledged.</summary>
    public bool PersistOnWrite { get; set; }
}

/// <summary>backing-stop: write back all dirty data, then forget the backing.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed class BackingStopArgs
{
    [JsonRequired]
    public int BackingId { get; set; }

    /// <summary>Forget a backing that cannot be attached, discarding the dirty data it still has in the cache.</summary>
    public bool Force { get; set; }
}

/// <summary>backing-list: every backing, or those of one cache.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed class BackingListArgs
{
    public int? CacheId { get; set; }
}

/// <summary>backing-set: change a running backing's settings.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed class BackingSetArgs : BackingTuningArgs
{
    [JsonRequired]
    public int BackingId { get; set; }
}

/// <summary>stat: the engine's counters, for one backing or all of them.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed class StatArgs
{
    public int? BackingId { get; set; }

    /// <summary>Zero the counters after reading them.</summary>
    public bool Reset { get; set; }
}

using PCache.Client;
using PCache.Engine.Cache;
using PCache.Engine.Layout;

namespace PCache.Daemon.Glue;

/// <summary>The daemon's objects as the protocol shows them.</summary>
internal static class Views
{
    public static CacheEntry Cache(ManagedCache cache)
    {
        var sb = cache.Device.Superblock;
        int free = cache.Device.FreeSegments;
        return new CacheEntry
        {
            Magic = $"0x{Superblock.Magic:x16}",
            Version = (int)sb.Version,
            Flags = $"0x{sb.Flags:x8}",
            SegmentNum = (int)sb.SegmentCount,
            CacheId = cache.Id,
            Path = cache.Path,
            Size = cache.Pmem.Length,
            SegmentSize = sb.SegmentSize,
            FreeSegs = free,
            FreeBytes = free * sb.SegmentSize,
            PersistMode = cache.Pmem.PersistMode,
            DeviceId = sb.DeviceId.ToString(),
            FormattedAt = DateTimeOffset.FromUnixTimeSeconds(sb.FormatTimeSeconds),
            DataCrc = cache.DataCrc,
            Backings = cache.Backings.Count,
        };
    }

    public static BackingEntry Backing(ManagedBacking backing, NbdExports exports)
    {
        var info = backing.Info;
        long segmentSize = backing.Cache.Device.Superblock.SegmentSize;
        var status = backing.Running?.GetStatus() ?? backing.OfflineStatus;
        bool exported = backing.State == BackingStates.Running;
        return new BackingEntry
        {
            BackingId = backing.Id,
            BackingPath = info.Path,
            CacheSegs = (int)info.SegmentCount,
            CacheGcPercent = info.GcPercent,
            CacheUsedSegs = status?.UsedSegments ?? 0,
            LogicDev = exported ? exports.UnixUri(backing.ExportName) : null,
            CacheId = backing.Cache.Id,
            Export = backing.ExportName,
            Size = info.BackingSize,
            CacheSize = info.SegmentCount * segmentSize,
            DirtyBytes = status?.DirtyBytes ?? 0,
            Mode = info.Mode.Name(),
            Draining = status?.Draining ?? false,
            SequentialCutoff = backing.SequentialCutoff,
            ReadAdmission = backing.ReadAdmission,
            State = backing.State,
            Error = backing.Running is not null ? status?.WritebackError ?? status?.GcError : backing.Error,
            Queues = (int)info.Queues,
            DataCrc = info.DataCrc,
            PersistOnWrite = info.PersistOnWrite,
            NbdTcp = exported ? exports.TcpUri(backing.ExportName) : null,
            NbdClients = exports.Server.ConnectionCountFor(backing.ExportName),
            WritebackWatermark = info.Pacing.WatermarkPercent,
            WritebackMaxAge = info.Pacing.MaxAgeSeconds,
            WritebackRate = info.Pacing.RateBytesPerSecond,
        };
    }

    public static BackingStatistics Statistics(ManagedBacking backing, TimeSpan stuckAfter)
    {
        var requests = backing.Running?.Requests(stuckAfter) ?? default;
        var s = backing.Running?.GetStatus() ?? backing.OfflineStatus ?? new CacheStatus
        {
            BackingId = backing.Slot,
            Path = backing.Path,
            Size = backing.Info.BackingSize,
            CacheSegments = (int)backing.Info.SegmentCount,
            GcPercent = backing.Info.GcPercent,
        };
        var counters = backing.Running is null ? [] : s.Counters;
        long hit = counters.GetValueOrDefault("read_hit_bytes"), miss = counters.GetValueOrDefault("read_miss_bytes");
        return new BackingStatistics
        {
            BackingId = backing.Id,
            BackingPath = backing.Path,
            CacheId = backing.Cache.Id,
            State = backing.State,
            Size = s.Size,
            SegmentSize = backing.Cache.Device.Superblock.SegmentSize,
            CacheSegs = s.CacheSegments,
            CacheUsedSegs = s.UsedSegments,
            GcPercent = s.GcPercent,
            Mode = backing.Info.Mode.Name(),
            Draining = s.Draining,
            DirtyBytes = s.DirtyBytes,
            ReadHitRatio = hit + miss == 0 ? 0 : (double)hit / (hit + miss),
            PendingKeys = s.PendingKeys,
            IndexKeys = s.IndexKeys,
            IndexBytes = s.IndexBytes,
            KeyHead = s.KeyHead,
            DirtyTail = s.DirtyTail,
            KeyTail = s.KeyTail,
            ReplayMilliseconds = s.ReplayMilliseconds,
            ReplayKsets = s.ReplayKsets,
            ReplayKeys = s.ReplayKeys,
            WritebackError = backing.Running is null ? backing.Error : s.WritebackError,
            GcError = s.GcError,
            InFlightRequests = requests.InFlight,
            StuckRequests = requests.Stuck,
            OldestStuckSeconds = Math.Round(requests.OldestSeconds, 3),
            Counters = counters,
            Latency = LatencyView.Summaries(backing.Latencies),
            WritebackState = backing.Running is null ? "stopped" : s.Pacing.State,
            DirtyPercent = s.Pacing.DirtyPercent,
            WritebackWatermark = backing.Info.Pacing.WatermarkPercent,
            WritebackMaxAge = backing.Info.Pacing.MaxAgeSeconds,
            WritebackRate = backing.Info.Pacing.RateBytesPerSecond,
            OldestDirtySeconds = backing.Running is null ? 0 : s.Pacing.OldestDirtySeconds,
            WritebackBytesPerSecond = backing.Running is null ? 0 : s.Pacing.Rate,
        };
    }
}

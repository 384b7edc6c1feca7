using System.Globalization;
using System.Text;
using PCache.Daemon.Glue;
using PCache.Engine.Cache;

namespace PCache.Daemon.Metrics;

/// <summary>
/// Renders a <see cref="MetricsCensus"/> in the Prometheus text format 0.0.4 or in OpenMetrics 1.0.0.
/// Names are stable: pcache_ prefix, labels cache and backing (the ids stat and backing-list show),
/// base units (bytes, seconds). Every engine counter is exported as pcache_backing_NAME_total without
/// a list here, so counters added to the engine appear on their own.
/// </summary>
internal sealed class MetricsText
{
    public const string PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";
    public const string OpenMetricsContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8";

    private readonly StringBuilder _out = new(16 * 1024);
    private readonly bool _openMetrics;

    private MetricsText(bool openMetrics) => _openMetrics = openMetrics;

    /// <summary>The whole exposition.</summary>
    public static string Render(MetricsCensus census, DaemonFigures daemon, bool openMetrics)
    {
        var t = new MetricsText(openMetrics);
        t.Daemon(daemon);
        t.Caches(census);
        t.Backings(census);
        if (openMetrics) t._out.Append("# EOF\n");
        return t._out.ToString();
    }

    private void Daemon(DaemonFigures d)
    {
        Family("pcache_start_time_seconds", "gauge", "When the daemon started, in seconds since the Unix epoch.");
        Sample("pcache_start_time_seconds", "", d.StartTimeSeconds);
        Family("pcache_nbd_connections", "gauge", "NBD connections open now.");
        Sample("pcache_nbd_connections", "", d.NbdConnections);
        Family("pcache_control_connections", "gauge", "Control socket connections open now.");
        Sample("pcache_control_connections", "", d.ControlConnections);
    }

    private void Caches(MetricsCensus census)
    {
        void Gauge(string name, string help, Func<CacheFigures, double> value)
        {
            Family(name, "gauge", help);
            foreach (var c in census.Caches) Sample(name, CacheLabels(c), value(c));
        }
        Gauge("pcache_cache_size_bytes", "Size of the cache device.", c => c.Size);
        Gauge("pcache_cache_segment_size_bytes", "Size of one segment of the cache device.", c => c.SegmentSize);
        Gauge("pcache_cache_segments", "Segments of the cache device.", c => c.Segments);
        Gauge("pcache_cache_free_segments", "Segments of the cache device not given to any backing.", c => c.FreeSegments);
        Gauge("pcache_cache_backings", "Backings the cache device records.", c => c.Backings.Count);

        const string duration = "pcache_cache_request_duration_seconds";
        Family(duration, "histogram", "NBD request latency from receipt to reply, over all backings of the cache, by operation.");
        foreach (var c in census.Caches)
        {
            var latencies = c.Latencies();
            for (int i = 0; i < latencies.Length; i++)
                Histogram(duration, $"{CacheLabels(c)},op=\"{RequestLatencies.OpNames[i]}\"", latencies[i]);
        }
    }

    private void Backings(MetricsCensus census)
    {
        var all = census.Caches.SelectMany(c => c.Backings).ToList();
        void Gauge(string name, string help, Func<BackingFigures, double> value)
        {
            Family(name, "gauge", help);
            foreach (var b in all) Sample(name, BackingLabels(b), value(b));
        }

        Family("pcache_backing_running", "gauge", "1 when the backing is attached and exported over NBD, else 0; path and state are labels.");
        foreach (var b in all)
            Sample("pcache_backing_running", $"{BackingLabels(b)},path=\"{Escape(b.Stat.BackingPath)}\",state=\"{Escape(b.Stat.State)}\"",
                b.Stat.State == Client.BackingStates.Running ? 1 : 0);
        Gauge("pcache_backing_size_bytes", "Size of the backing device.", b => b.Stat.Size);
        Gauge("pcache_backing_cache_segments", "Segments of the cache device given to the backing.", b => b.Stat.CacheSegs);
        Gauge("pcache_backing_cache_used_segments", "Of those, segments holding cached data.", b => b.Stat.CacheUsedSegs);
        Gauge("pcache_backing_gc_threshold_ratio", "GC starts when this share of the backing's segments is used (gc_percent / 100).", b => b.Stat.GcPercent / 100.0);
        Gauge("pcache_backing_dirty_bytes", "Data in the cache not yet written back to the backing device.", b => b.Stat.DirtyBytes);
        Gauge("pcache_backing_read_hit_ratio", "Read bytes served from the cache divided by read bytes, since the counters were last cleared.", b => b.Stat.ReadHitRatio);
        Gauge("pcache_backing_index_keys", "Keys in the backing's in-memory index.", b => b.Stat.IndexKeys);
        Gauge("pcache_backing_pending_keys", "Keys acknowledged but not yet persisted in a kset.", b => b.Stat.PendingKeys);
        Gauge("pcache_backing_in_flight_requests", "Requests inside the engine now.", b => b.Stat.InFlightRequests);
        Gauge("pcache_backing_stuck_requests", "Requests inside the engine for longer than the daemon's stuck_after.", b => b.Stat.StuckRequests);
        Gauge("pcache_backing_oldest_stuck_request_seconds", "Age of the oldest stuck request (0 when none is stuck).", b => b.Stat.OldestStuckSeconds);
        Gauge("pcache_backing_writeback_failing", "1 while write-back or GC reports an error, else 0.",
            b => b.Stat.State == Client.BackingStates.Running && (b.Stat.WritebackError is not null || b.Stat.GcError is not null) ? 1 : 0);

        // Every engine counter, whatever its name: they are cumulative, so counters.
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var b in all) names.UnionWith(b.Stat.Counters.Keys);
        foreach (string counter in names)
        {
            string family = "pcache_backing_" + MetricName(counter);
            if (family.EndsWith("_total", StringComparison.Ordinal)) family = family[..^"_total".Length];
            // Prometheus wants base units: a counter of milliseconds is exported in seconds.
            bool millis = family.EndsWith("_ms", StringComparison.Ordinal);
            if (millis) family = family[..^"_ms".Length] + "_seconds";
            Family(family, "counter", $"The engine's {counter} counter (see pcache stat){(millis ? " in seconds" : "")}, since the backing was attached or its counters cleared.");
            foreach (var b in all)
                if (b.Stat.Counters.TryGetValue(counter, out long v))
                {
                    if (millis) Sample(family + "_total", BackingLabels(b), v / 1000.0);
                    else Sample(family + "_total", BackingLabels(b), v);
                }
        }

        const string duration = "pcache_backing_request_duration_seconds";
        Family(duration, "histogram", "NBD request latency from receipt to reply, by operation.");
        foreach (var b in all)
            for (int i = 0; i < b.Latencies.Length; i++)
                Histogram(duration, $"{BackingLabels(b)},op=\"{RequestLatencies.OpNames[i]}\"", b.Latencies[i]);
    }

    /// <summary>A histogram's series, with a bucket at every power of two of nanoseconds (the histogram's own bounds, coarsened).</summary>
    private void Histogram(string name, string labels, LatencySnapshot s)
    {
        long cumulative = 0;
        int next = 0;
        for (int shift = LatencyHistogram.MinShift; shift <= LatencyHistogram.MaxShift; shift++)
        {
            long bound = 1L << shift;
            while (next < LatencyHistogram.BucketCount - 1 && LatencyHistogram.UpperBound(next) <= bound)
                cumulative += s.Buckets[next++];
            Sample(name + "_bucket", $"{labels},le=\"{Number(bound / 1e9)}\"", cumulative);
        }
        long count = s.Count;
        Sample(name + "_bucket", $"{labels},le=\"+Inf\"", count);
        Sample(name + "_sum", labels, s.SumNanoseconds / 1e9);
        Sample(name + "_count", labels, count);
    }

    private void Family(string name, string type, string help)
    {
        // Prometheus' text format names a counter by its samples (…_total), OpenMetrics by its family.
        string named = type == "counter" && !_openMetrics ? name + "_total" : name;
        _out.Append("# HELP ").Append(named).Append(' ').Append(EscapeHelp(help)).Append('\n');
        _out.Append("# TYPE ").Append(named).Append(' ').Append(type).Append('\n');
    }

    private void Sample(string name, string labels, double value)
    {
        _out.Append(name);
        if (labels.Length > 0) _out.Append('{').Append(labels).Append('}');
        _out.Append(' ').Append(Number(value)).Append('\n');
    }

    private void Sample(string name, string labels, long value)
    {
        _out.Append(name);
        if (labels.Length > 0) _out.Append('{').Append(labels).Append('}');
        _out.Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    private static string CacheLabels(CacheFigures c) => $"cache=\"{c.Id}\"";

    private static string BackingLabels(BackingFigures b) => $"cache=\"{b.Stat.CacheId}\",backing=\"{b.Stat.BackingId}\"";

    private static string Number(double v) =>
        double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : double.IsNaN(v) ? "NaN"
        : v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A counter's name as a metric name: [a-z0-9_] only (anything else becomes '_').</summary>
    internal static string MetricName(string counter)
    {
        var sb = new StringBuilder(counter.Length);
        foreach (char ch in counter)
            sb.Append(ch is >= 'a' and <= 'z' or >= '0' and <= '9' or '_' ? ch : ch is >= 'A' and <= 'Z' ? char.ToLowerInvariant(ch) : '_');
        return sb.ToString();
    }

    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeHelp(string help) =>
        help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}

/// <summary>The daemon-wide figures of the exposition.</summary>
internal readonly record struct DaemonFigures(double StartTimeSeconds, int NbdConnections, int ControlConnections);

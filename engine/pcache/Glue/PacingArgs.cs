using PCache.Client;
using PCache.Daemon.Control;
using PCache.Engine.Layout;

namespace PCache.Daemon.Glue;

/// <summary>The write-back pacing options of backing-start and backing-set, over the settings a backing has.</summary>
internal static class PacingArgs
{
    public static bool Any(int? watermark, int? maxAge, long? rate) => watermark is not null || maxAge is not null || rate is not null;

    /// <summary>The given options on top of <paramref name="current"/>; a bad value is an invalid_argument naming its field.</summary>
    public static WritebackPacing Apply(WritebackPacing current, int? watermark, int? maxAge, long? rate)
    {
        var next = current with
        {
            WatermarkPercent = watermark ?? current.WatermarkPercent,
            MaxAgeSeconds = maxAge ?? current.MaxAgeSeconds,
            RateBytesPerSecond = rate ?? current.RateBytesPerSecond,
        };
        if (next.Problem() is { } problem)
        {
            string field = problem.Contains("watermark", StringComparison.Ordinal) ? "writeback_watermark"
                : problem.Contains("max-age", StringComparison.Ordinal) ? "writeback_max_age" : "writeback_rate";
            throw ControlException.Invalid(problem, field);
        }
        return next;
    }

    public static string Describe(WritebackPacing p) =>
        $"writeback_watermark {p.WatermarkPercent} %, writeback_max_age {p.MaxAgeSeconds} s, writeback_rate {(p.RateBytesPerSecond == 0 ? "unlimited" : ByteSize.Format(p.RateBytesPerSecond) + "/s")}";
}

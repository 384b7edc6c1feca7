namespace PCache.Client;

/// <summary>
/// One operation's latency on one backing, from the request's receipt to its reply, since the
/// statistics were last cleared. Percentiles are the upper bounds of log-linear buckets (four per
/// power of two), so they overstate by at most 25 %; 0 when no request was answered.
/// </summary>
public sealed class LatencySummary
{
    /// <summary>Requests answered.</summary>
    public long Count { get; set; }

    public double P50Microseconds { get; set; }

    public double P99Microseconds { get; set; }

    public double P999Microseconds { get; set; }
}

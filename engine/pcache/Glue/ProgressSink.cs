using PCache.Client;

namespace PCache.Daemon.Glue;

/// <summary>
/// The latest progress of a long operation. The operation reports as often as it likes; the
/// control connection samples it at its own pace, so a slow client never slows a drain down.
/// </summary>
internal sealed class ProgressSink
{
    private DrainProgress? _latest;
    private long _lastReportTicks;

    public DrainProgress? Latest => Volatile.Read(ref _latest);

    /// <summary>Keep <paramref name="progress"/> unless one was kept less than 200 ms ago (forced for first and last).</summary>
    public void Report(Func<DrainProgress> progress, bool force = false)
    {
        long now = Environment.TickCount64;
        if (!force && now - Volatile.Read(ref _lastReportTicks) < 200) return;
        Volatile.Write(ref _lastReportTicks, now);
        Volatile.Write(ref _latest, progress());
    }
}

using System.Diagnostics;

namespace PCache.Nbd;

/// <summary>
/// Rescues connections whose reading thread is stuck running a request itself (see
/// <see cref="Transmission"/>): every millisecond it asks each registered connection to check, and a
/// connection whose inline request has run longer than that starts another reader, so requests behind a
/// slow one are still read and served. It polls only while requests have recently run inline and sleeps
/// otherwise, so an idle daemon costs nothing; waking it is one flag check per inline request.
/// When a poll finds no reader inside a request (at queue depth 1 readers spend nearly all their time
/// waiting for the client) the next poll comes after <see cref="QuietPollMs"/>: a thousand wake-ups a
/// second cost a measurable share of a core shared with the client, and a reader that starts a request
/// just after such a poll is still rescued within a few milliseconds.
/// </summary>
internal static class StallWatchdog
{
    public static readonly long Threshold = Stopwatch.Frequency / 1000;   // 1 ms
    private static readonly long IdleAfter = Stopwatch.Frequency;          // stop polling after 1 s without inline work
    private const int QuietPollMs = 4;

    private static readonly object Gate = new();
    private static readonly List<Transmission> Watched = [];
    private static Transmission[] snapshot = [];
    private static Thread? thread;
    private static volatile bool sleeping = true;
    private static long lastActivity;

    public static void Register(Transmission transmission)
    {
        lock (Gate)
        {
            Watched.Add(transmission);
            snapshot = [.. Watched];
            if (thread is null)
            {
                thread = new Thread(Run) { IsBackground = true, Name = "nbd-watchdog" };
                thread.Start();
            }
        }
    }

    public static void Unregister(Transmission transmission)
    {
        lock (Gate)
        {
            Watched.Remove(transmission);
            snapshot = [.. Watched];
        }
    }

    /// <summary>Called before each inline request: keeps the watchdog polling (and wakes it when it slept).</summary>
    public static void NoteInlineRequest(long now)
    {
        // A full fence, not a release: the store must be visible before sleeping is read, or the watchdog
        // could miss this request and go to sleep while we skip waking it.
        Interlocked.Exchange(ref lastActivity, now);
        if (sleeping)
        {
            lock (Gate)
            {
                sleeping = false;
                Monitor.Pulse(Gate);
            }
        }
    }

    private static void Run()
    {
        bool busy = true;
        while (true)
        {
            lock (Gate)
            {
                while (sleeping)
                    Monitor.Wait(Gate);
            }
            Thread.Sleep(busy ? 1 : QuietPollMs);
            long now = Stopwatch.GetTimestamp();
            busy = false;
            foreach (var transmission in Volatile.Read(ref snapshot))
            {
                transmission.RescueStalledReader(now);
                busy |= transmission.RunningInline;
            }
            if (now - Volatile.Read(ref lastActivity) > IdleAfter)
            {
                lock (Gate)
                {
                    // Announce the sleep first, then look for activity once more (with a full fence in between,
                    // as NoteInlineRequest does the reverse): one of the two sides always sees the other.
                    sleeping = true;
                    Interlocked.MemoryBarrier();
                    if (Stopwatch.GetTimestamp() - Volatile.Read(ref lastActivity) <= IdleAfter)
                        sleeping = false;
                }
            }
        }
    }
}

using System.Diagnostics;

namespace PCache.Nbd;

/// <summary>
/// The threads that run one connection's requests. Export calls may block (a full cache makes writers
/// wait, a miss reads the backing device), so they run on dedicated threads rather than the shared thread
/// pool, and each connection has its own so that one client cannot starve another.
/// How many run at once adapts: waking a thread per request costs more than a fast request (measured:
/// 16 eager workers cut 4 KiB QD32 writes to a quarter on 2 cores), so normally only
/// <see cref="NbdServerOptions.ActiveWorkersPerConnection"/> work. While requests are queued, one idle
/// thread stands by and, whenever the oldest queued request has waited longer than
/// <see cref="StallThreshold"/> while the working threads are blocked or their requests slow (waiting on
/// I/O rather than on the CPU), lets one more thread work, up to the per-connection maximum. An empty
/// queue brings the count back down.
/// </summary>
internal sealed class RequestWorkers
{
    private static readonly long StallThreshold = Stopwatch.Frequency / 1000;   // 1 ms
    private static readonly long SlowRequest = Stopwatch.Frequency / 20_000;    // 50 µs: I/O-bound, not CPU-bound

    private readonly Action<NbdRequest> execute;
    private readonly NbdRequest?[] queue;
    private readonly long[] queuedAt;
    private readonly int baseActive;
    private readonly int maxThreads;
    private readonly string threadName;
    private readonly object gate = new();
    private int head;
    private int count;
    private int threads;
    private int sleeping;   // threads in Monitor.Wait that no Pulse has claimed yet
    private int active;     // threads executing a request
    private int target;     // how many may execute at once right now
    private bool standby;   // a thread is watching the queue for stalls
    private bool stopped;
    private long completions;
    private long averageTicks;  // moving average of request execution time

    /// <param name="capacity">Most requests ever queued at once (the connection's in-flight bound).</param>
    public RequestWorkers(Action<NbdRequest> execute, int capacity, int baseActive, int maxThreads, string threadName)
    {
        this.execute = execute;
        queue = new NbdRequest?[capacity];
        queuedAt = new long[capacity];
        this.maxThreads = Math.Max(1, maxThreads);
        this.baseActive = Math.Clamp(baseActive, 1, this.maxThreads);
        target = this.baseActive;
        this.threadName = threadName;
    }

    public void Enqueue(NbdRequest request)
    {
        lock (gate)
        {
            int tail = (head + count) % queue.Length;
            queue[tail] = request;
            queuedAt[tail] = Stopwatch.GetTimestamp();
            count++;
            if (active < target || !standby)
                WakeOne();
        }
    }

    /// <summary>Lets idle threads exit; call once nothing more will be queued.</summary>
    public void Stop()
    {
        lock (gate)
        {
            stopped = true;
            Monitor.PulseAll(gate);
        }
    }

    private void WakeOne()
    {
        if (sleeping > 0)
        {
            sleeping--;
            Monitor.Pulse(gate);
        }
        else if (threads < maxThreads)
        {
            threads++;
            new Thread(Work) { IsBackground = true, Name = threadName }.Start();
        }
    }

    private void Work()
    {
        Monitor.Enter(gate);
        try
        {
            while (true)
            {
                if (count > 0 && active < target)
                {
                    var request = queue[head]!;
                    queue[head] = null;
                    head = (head + 1) % queue.Length;
                    count--;
                    active++;
                    if (count > 0 && !standby)
                        WakeOne();   // more is queued: somebody should watch it
                    Monitor.Exit(gate);
                    long started = Stopwatch.GetTimestamp();
                    try
                    {
                        execute(request);
                    }
                    finally
                    {
                        long took = Stopwatch.GetTimestamp() - started;
                        Monitor.Enter(gate);
                        active--;
                        completions++;
                        averageTicks += (took - averageTicks) / 8;
                    }
                    continue;
                }
                if (count > 0 && !standby)
                {
                    // Poll outside the monitor so Pulse always reaches a sleeper, never the watcher.
                    standby = true;
                    long completionsBefore = completions;
                    Monitor.Exit(gate);
                    Thread.Sleep(1);
                    Monitor.Enter(gate);
                    standby = false;
                    // More threads only help requests that wait on I/O; fast requests starved of CPU would just thrash.
                    bool blocked = completions == completionsBefore || averageTicks >= SlowRequest;
                    if (blocked && count > 0 && active >= target && target < maxThreads
                        && Stopwatch.GetTimestamp() - queuedAt[head] >= StallThreshold)
                        target++;
                    continue;
                }
                if (count == 0)
                {
                    target = baseActive;
                    if (stopped)
                    {
                        threads--;
                        return;
                    }
                }
                sleeping++;
                Monitor.Wait(gate);
            }
        }
        finally
        {
            Monitor.Exit(gate);
        }
    }
}

namespace PCache.Nbd;

/// <summary>
/// A connection's requests between being read and being answered: bounded in count and payload bytes
/// (over budget, the reader stops reading — back-pressure, never an error), and recycled, so the
/// steady state allocates no request objects.
/// </summary>
internal sealed class InFlightRequests
{
    private readonly int maxRequests;
    private readonly long maxBytes;
    private readonly Action beforeWait;
    private readonly object gate = new();
    private readonly Stack<NbdRequest> pool = new();
    private int count;
    private long bytes;
    private int waiters;

    /// <param name="beforeWait">Called (outside the lock) before <see cref="Acquire"/> waits: e.g. to send replies the reader deferred.</param>
    public InFlightRequests(int maxRequests, long maxBytes, Action beforeWait)
    {
        this.maxRequests = Math.Max(1, maxRequests);
        this.maxBytes = maxBytes;
        this.beforeWait = beforeWait;
    }

    public int MaxRequests => maxRequests;

    /// <summary>A request object charged with <paramref name="cost"/> payload bytes; waits while over budget (one request is always allowed).</summary>
    public NbdRequest Acquire(long cost)
    {
        lock (gate)
        {
            if (!OverBudget(cost))
                return Take(cost);
        }
        beforeWait();
        lock (gate)
        {
            while (OverBudget(cost))
            {
                waiters++;
                Monitor.Wait(gate);
                waiters--;
            }
            return Take(cost);
        }
    }

    private NbdRequest Take(long cost)
    {
        count++;
        bytes += cost;
        var request = pool.Count > 0 ? pool.Pop() : new NbdRequest();
        request.Cost = cost;
        return request;
    }

    private bool OverBudget(long cost) => count >= maxRequests || (count > 0 && bytes + cost > maxBytes);

    /// <summary>The request has been answered (or abandoned): its buffer and budget are free again.</summary>
    public void Release(NbdRequest request)
    {
        request.ReturnBuffer();
        lock (gate)
        {
            count--;
            bytes -= request.Cost;
            pool.Push(request);
            if (waiters > 0)
                Monitor.PulseAll(gate);
        }
    }

    public void WaitUntilNone()
    {
        lock (gate)
        {
            while (count > 0)
            {
                waiters++;
                Monitor.Wait(gate);
                waiters--;
            }
        }
    }
}

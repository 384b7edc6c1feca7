namespace PCache.Engine.Background;

/// <summary>A dedicated thread that runs a step until told to stop; <see cref="Wake"/> cuts its sleep short.</summary>
internal abstract class Worker
{
    private readonly AutoResetEvent _wake = new(false);
    private readonly Thread _thread;
    private volatile bool _stop;

    protected Worker(string name)
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = name };
    }

    protected bool Stopping => _stop;

    public string? Error { get; protected set; }

    public void Start() => _thread.Start();

    public void Wake() => _wake.Set();

    public void Stop()
    {
        RequestStop();
        if (Thread.CurrentThread != _thread) _thread.Join();
    }

    /// <summary>Ask the loop to end after its current step, without waiting for it.</summary>
    protected void RequestStop()
    {
        _stop = true;
        _wake.Set();
    }

    /// <summary>Wait at most <paramref name="wait"/> for the loop to end; true once it has.</summary>
    protected bool Join(TimeSpan wait) => Thread.CurrentThread == _thread || _thread.Join(wait);

    /// <summary>Do some work; return how long to sleep before the next step (0 = go on at once).</summary>
    protected abstract int Step();

    private void Loop()
    {
        while (!_stop)
        {
            int sleep;
            try
            {
                sleep = Step();
            }
            catch (Exception e) when (_stop)
            {
                _ = e; // the cache is going away under us (crash tests abandon it mid-step)
                return;
            }
            if (sleep > 0 && !_stop) _wake.WaitOne(sleep);
        }
    }
}

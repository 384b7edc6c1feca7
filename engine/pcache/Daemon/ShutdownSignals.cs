using System.Runtime.InteropServices;

namespace PCache.Daemon;

/// <summary>
/// Turns SIGTERM, SIGINT and SIGQUIT into one cancellation: the runtime's default for these would
/// end the process at once, before ksets are persisted and exports closed. SIGHUP is logged and
/// ignored (there is nothing to reload: caches are managed over the control socket).
/// </summary>
internal sealed class ShutdownSignals : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<PosixSignalRegistration> _registrations = [];

    public ShutdownSignals()
    {
        foreach (var signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT })
        {
            _registrations.Add(PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                if (!_stop.IsCancellationRequested)
                {
                    Signal = context.Signal;
                    Log.Notice($"received {context.Signal}; stopping");
                }
                _stop.Cancel();
            }));
        }
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            Log.Info("received SIGHUP; nothing to reload (manage caches with the pcache CLI)");
        }));
    }

    public CancellationToken Token => _stop.Token;

    public PosixSignal? Signal { get; private set; }

    /// <summary>Stop as if signalled (the demo's own Ctrl+C handling, tests).</summary>
    public void Request() => _stop.Cancel();

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
    }
}

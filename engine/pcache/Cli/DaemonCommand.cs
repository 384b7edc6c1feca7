namespace PCache.Daemon.Cli;

/// <summary>`pcache daemon`: resolve the options, install the signal handlers, run until stopped.</summary>
internal static class DaemonCommand
{
    public static async Task<int> RunAsync(ParsedArgs a)
    {
        DaemonOptions options;
        try
        {
            options = DaemonOptions.Resolve(a.Text("socket"), a.Text("nbd-socket"), a.Text("nbd-listen"), a.Text("config"), a.Text("group"), a.Text("socket-mode"),
                a.Int("stop-timeout"), a.Int("stuck-after"), a.Text("metrics-listen"));
        }
        catch (DaemonStartException e)
        {
            Log.Error($"pcache daemon: {e.Message}");
            return 1;
        }
        // A bug in a background thread is logged where the admin looks; the runtime then ends the
        // process, and systemd's Restart= brings it back with every cache replayed.
        AppDomain.CurrentDomain.UnhandledException += (_, e) => Log.Error($"unhandled exception: {e.ExceptionObject}");
        TaskScheduler.UnobservedTaskException += (_, e) =>
        {
            e.SetObserved();
            Log.Warning($"unobserved task exception: {e.Exception.GetBaseException().Message}");
        };
        using var signals = new ShutdownSignals();
        return await new DaemonHost(options).RunAsync(signals.Token);
    }
}

using System.Diagnostics;
using PCache.Client;

namespace PCache.Core;

/// <summary>
/// Sync-PCacheBacking: wait until a running backing holds no dirty data, showing what is left.
/// The daemon writes back continuously and closes open ksets within a second, so watching its
/// statistics is enough to tell when everything reached the backing device. With writers still
/// busy that moment may never come: -TimeoutSec bounds the wait and Ctrl+C ends it at once.
/// </summary>
public static class SyncBacking
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    /// <param name="ask">False when the caller already asked (Set-PCacheBacking -Wait after a mode switch).</param>
    public static void Run(PCacheClient client, ICommandSink sink, int backingId, int timeoutSeconds, bool passThru, bool ask = true)
    {
        if (!TryStat(client, sink, backingId, out var stat)) return;
        string target = $"backing {backingId} ({stat.BackingPath})";
        if (stat.State != BackingStates.Running)
        {
            sink.WriteError(ErrorTranslator.Module(ErrorTranslator.BackingNotRunningId,
                $"Backing {backingId} ({stat.BackingPath}) is {stat.State}, so its dirty data cannot be written back now: {stat.WritebackError}",
                backingId, "Put the device back and run Add-PCacheBacking to re-attach it, or see Get-PCacheBacking for the reason."));
            return;
        }
        if (ask && !sink.ShouldProcess(target, $"Write back {ByteSize.Format(stat.DirtyBytes)} of dirty data to the backing device")) return;

        string activity = $"Writing back {target}";
        long initial = Math.Max(stat.DirtyBytes, 1);
        var clock = Stopwatch.StartNew();
        string? lastError = null;
        try
        {
            while (stat.DirtyBytes > 0 || stat.PendingKeys > 0)
            {
                if (stat.WritebackError is { } error && error != lastError)
                {
                    sink.WriteWarning($"backing {backingId}: {error}");
                    lastError = error;
                }
                if (stat.State != BackingStates.Running)
                {
                    sink.WriteError(ErrorTranslator.Module(ErrorTranslator.BackingNotRunningId,
                        $"Backing {backingId} stopped running ({stat.State}) before its dirty data was written back.", backingId));
                    return;
                }
                if (timeoutSeconds > 0 && clock.Elapsed.TotalSeconds >= timeoutSeconds)
                {
                    sink.WriteError(ErrorTranslator.Module(ErrorTranslator.SyncTimeoutId,
                        $"Backing {backingId} still holds {ByteSize.Format(stat.DirtyBytes)} of dirty data after {timeoutSeconds} s.", backingId));
                    return;
                }
                initial = Math.Max(initial, stat.DirtyBytes);
                int percent = (int)Math.Clamp(100 * (initial - stat.DirtyBytes) / initial, 0, 100);
                sink.WriteProgress(new ProgressReport(ProgressReport.SyncBackingActivity, activity,
                    $"{ByteSize.Format(stat.DirtyBytes)} of {ByteSize.Format(initial)} dirty left", percent));
                Task.Delay(PollInterval, sink.Stopping).GetAwaiter().GetResult();
                if (!TryStat(client, sink, backingId, out stat)) return;
            }
        }
        finally
        {
            // After Ctrl+C PowerShell refuses every write; the bar goes with the pipeline anyway.
            if (!sink.Stopping.IsCancellationRequested)
                sink.WriteProgress(new ProgressReport(ProgressReport.SyncBackingActivity, activity, "Done", 100, Completed: true));
        }
        sink.WriteVerbose($"backing {backingId} holds no dirty data ({clock.Elapsed.TotalSeconds:0.0} s)");
        if (passThru && BackingOperations.Find(client, sink, backingId) is { } backing)
            sink.WriteObject(Backing.From(backing, client.Socket.Path));
    }

    private static bool TryStat(PCacheClient client, ICommandSink sink, int backingId, out BackingStatistics stat)
    {
        stat = null!;
        if (!ClientCall.TryRun(client, sink, backingId, c => client.StatAsync(new StatArgs { BackingId = backingId }, c), out var result)) return false;
        stat = result.Backings.Single();
        return true;
    }
}

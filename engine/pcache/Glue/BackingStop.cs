using System.Diagnostics;
using PCache.Client;
using PCache.Daemon.Control;
using PCache.Engine.Cache;

namespace PCache.Daemon.Glue;

/// <summary>
/// backing-stop: withdraw the export, write every dirty byte back (holding no lock, with progress
/// to the client), then detach. A cancelled or failed drain leaves the backing attached and
/// exported again; a backing that is not attached can only be forgotten, with --force.
/// </summary>
internal sealed class BackingStop(CacheTable table, NbdExports exports)
{
    private readonly List<Task> _drains = [];

    public async Task<BackingStopResult> RunAsync(BackingStopArgs args, ProgressSink progress, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        ManagedBacking backing;
        BackingCache running;
        using (await table.EnterAsync(cancel).ConfigureAwait(false))
        {
            backing = table.FindBacking(args.BackingId);
            if (backing.Busy) throw ControlException.Busy($"backing {backing.Id} is already being stopped", $"backing {backing.Id}");
            if (backing.Running is null)
                return Forget(backing, args.Force);
            running = backing.Running;
            await WithdrawAsync(backing, args.Force).ConfigureAwait(false);
        }

        long initial = Math.Max(0, running.DirtyBytes);
        DrainProgress Snapshot(long left, bool done) => new()
        {
            BackingId = backing.Id,
            DirtyBytes = Math.Max(0, left),
            InitialDirtyBytes = initial,
            WritebackError = running.WritebackError,
            Done = done,
        };
        progress.Report(() => Snapshot(initial, false), force: true);
        Log.Notice($"backing {backing.Id} ({backing.Path}): writing back {ByteSize.Format(initial)} of dirty data before it stops");

        await DrainAsync(backing, running, left => progress.Report(() => Snapshot(left, false)), cancel).ConfigureAwait(false);
        await DetachAsync(backing).ConfigureAwait(false);

        progress.Report(() => Snapshot(0, true), force: true);
        Log.Notice($"backing {backing.Id} ({backing.Path}) stopped after writing back {ByteSize.Format(initial)}");
        return new BackingStopResult
        {
            BackingId = backing.Id,
            BackingPath = backing.Path,
            WrittenBackBytes = initial,
            Seconds = clock.Elapsed.TotalSeconds,
        };
    }

    /// <summary>Drains still writing back; the daemon waits for them (cancelled) before it stops the caches.</summary>
    public Task[] InFlight()
    {
        lock (_drains) return _drains.ToArray();
    }

    /// <summary>Under the admin lease: mark the backing draining and take its export away.</summary>
    private async Task WithdrawAsync(ManagedBacking backing, bool force)
    {
        // Withdrawing the export under a mounted filesystem aborts its journal: only on request.
        int clients = exports.Server.ConnectionCountFor(backing.ExportName);
        if (clients > 0 && !force)
            throw new ControlException(ErrorCodes.BackingInUse,
                $"backing {backing.Id} is in use: {clients} NBD client{(clients == 1 ? " is" : "s are")} connected to {backing.ExportName} " +
                "(unmount or disconnect them first; --force disconnects them, after writing back every dirty byte)",
                $"backing {backing.Id}");
        backing.Busy = true;
        backing.State = BackingStates.Draining;
        // No NBD client may write while the drain chases dirty_tail to key_head.
        await exports.WithdrawAsync(backing.ExportName).ConfigureAwait(false);
    }

    private async Task DrainAsync(ManagedBacking backing, BackingCache running, Action<long> report, CancellationToken cancel)
    {
        var drain = Task.Factory.StartNew(() => running.Drain(cancel, report), cancel, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        lock (_drains) _drains.Add(drain);
        try
        {
            await drain.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await RestoreAsync(backing).ConfigureAwait(false);
            if (e is OperationCanceledException)
            {
                Log.Notice($"backing {backing.Id}: backing-stop cancelled; it stays attached as {backing.ExportName}");
                throw new ControlException(ErrorCodes.Cancelled,
                    $"backing-stop cancelled: backing {backing.Id} stays attached and exported as {backing.ExportName}, with {ByteSize.Format(Math.Max(0, running.DirtyBytes))} still dirty (nothing was lost)",
                    $"backing {backing.Id}");
            }
            throw new ControlException(ErrorCodes.IoError, $"backing {backing.Id}: write-back failed: {e.Message}; it stays attached", $"backing {backing.Id}");
        }
        finally
        {
            lock (_drains) _drains.Remove(drain);
        }
    }

    /// <summary>After a drain: take the backing off the cache device and close it.</summary>
    private async Task DetachAsync(ManagedBacking backing)
    {
        using (await table.EnterToFinishAsync().ConfigureAwait(false))
        {
            try
            {
                backing.Cache.Device.Remove(backing.Slot);
            }
            catch (InvalidOperationException e)
            {
                backing.Busy = false;
                backing.State = BackingStates.Running;
                if (!table.Stopping) exports.Publish(backing.Export!);
                throw ControlException.Conflict($"backing {backing.Id}: {e.Message}", $"backing {backing.Id}");
            }
            backing.Device?.Dispose();
            table.Forget(backing);
        }
    }

    private async Task RestoreAsync(ManagedBacking backing)
    {
        using (await table.EnterToFinishAsync().ConfigureAwait(false))
        {
            backing.Busy = false;
            backing.State = BackingStates.Running;
            if (!table.Stopping && backing.Export is { } export) exports.Publish(export);
        }
    }

    /// <summary>backing-stop on a backing that is not attached: only with --force, since its dirty data go with it.</summary>
    private BackingStopResult Forget(ManagedBacking backing, bool force)
    {
        long dirty = backing.DirtyBytes;
        if (!force)
            throw ControlException.Conflict(
                $"backing {backing.Id} is {backing.State}, so its dirty data cannot be written back: {backing.Error} " +
                $"(--force discards {ByteSize.Format(dirty)} of dirty data)", $"backing {backing.Id}");
        backing.Cache.Device.Remove(backing.Slot);
        table.Forget(backing);
        Log.Warning($"backing {backing.Id} ({backing.Path}) forgotten with --force; {ByteSize.Format(dirty)} of dirty data discarded");
        return new BackingStopResult { BackingId = backing.Id, BackingPath = backing.Path, DiscardedDirtyBytes = dirty };
    }
}

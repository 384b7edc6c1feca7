using PCache.Client;

namespace PCache.Core;

/// <summary>
/// Remove-PCacheBacking: the daemon writes back every dirty byte, then forgets the backing. The
/// drain can take long, so its progress (dirty bytes left) becomes Write-Progress; Ctrl+C asks the
/// daemon to stop the drain, and the backing stays attached with nothing lost.
/// </summary>
public static class RemoveBacking
{
    public static void Run(PCacheClient client, ICommandSink sink, int backingId, bool force, bool passThru)
    {
        if (BackingOperations.Find(client, sink, backingId) is not { } backing) return;
        string target = BackingOperations.Describe(backing);
        string clients = Clients(backing.NbdClients);
        if (backing.NbdClients > 0 && !force)
        {
            // A mounted filesystem loses its device mid-journal: never without being asked to.
            sink.WriteError(ErrorTranslator.Module(ErrorTranslator.BackingInUseId,
                $"Backing {backingId} ({backing.BackingPath}) is in use: {clients} connected to its NBD export {backing.Export}. " +
                "Removing it would cut them off, and a filesystem mounted on it would lose unsynced data.",
                backingId));
            return;
        }
        string action = backing.State switch
        {
            BackingStates.Running when backing.NbdClients > 0 =>
                $"Write back {ByteSize.Format(backing.DirtyBytes)} of dirty data, DISCONNECT {clients} from the NBD export {backing.Export} and remove the backing",
            BackingStates.Running => $"Write back {ByteSize.Format(backing.DirtyBytes)} of dirty data, withdraw the NBD export {backing.Export} (no NBD clients connected) and remove the backing",
            _ when force => $"Forget the backing (it is {backing.State}) and DISCARD its {ByteSize.Format(backing.DirtyBytes)} of dirty data",
            _ => $"Remove the backing (it is {backing.State}; without -Force the daemon refuses while it holds dirty data)",
        };
        if (!sink.ShouldProcess(target, action)) return;
        if (force && backing.State != BackingStates.Running && backing.DirtyBytes > 0 &&
            !sink.ShouldContinue(
                $"{ByteSize.Format(backing.DirtyBytes)} of dirty data of {target} was never written to {backing.BackingPath} and will be lost. Discard it?",
                "Discard dirty data"))
            return;

        string activity = $"Removing {target}";
        var args = new BackingStopArgs { BackingId = backingId, Force = force };
        bool ok = ClientCall.TryRunWithProgress<BackingStopResult, DrainProgress>(client, sink, backingId,
            (progress, cancel) => client.StopBackingAsync(args, progress, cancel),
            p => sink.WriteProgress(Progress(activity, p)),
            out var result);
        sink.WriteProgress(new ProgressReport(ProgressReport.RemoveBackingActivity, activity, "Done", 100, Completed: true));
        if (!ok) return;
        if (result.DiscardedDirtyBytes > 0)
            sink.WriteWarning($"backing {backingId} removed; {ByteSize.Format(result.DiscardedDirtyBytes)} of dirty data discarded");
        else
            sink.WriteVerbose($"backing {backingId} removed after writing back {ByteSize.Format(result.WrittenBackBytes)} in {result.Seconds:0.0} s");
        if (passThru) sink.WriteObject(RemovedBacking.From(result, backing.CacheId, client.Socket.Path));
    }

    private static string Clients(int n) => n == 1 ? "1 NBD client" : $"{n} NBD clients";

    /// <summary>Progress of a drain in words and percent (of the dirty data there was when it began).</summary>
    public static ProgressReport Progress(string activity, DrainProgress p)
    {
        int percent = p.InitialDirtyBytes <= 0 ? (p.Done ? 100 : 0)
            : (int)Math.Clamp(100 * (p.InitialDirtyBytes - p.DirtyBytes) / p.InitialDirtyBytes, 0, 100);
        string status = $"Writing back: {ByteSize.Format(p.DirtyBytes)} of {ByteSize.Format(p.InitialDirtyBytes)} dirty left";
        if (p.WritebackError is { } error) status += $" (write-back error, retrying: {error})";
        return new ProgressReport(ProgressReport.RemoveBackingActivity, activity, status, percent);
    }
}

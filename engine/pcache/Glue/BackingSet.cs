using PCache.Client;
using PCache.Daemon.Control;
using PCache.Engine.Layout;

namespace PCache.Daemon.Glue;

/// <summary>backing-set: change the settings of a running backing (recorded in its backing_info).</summary>
internal sealed class BackingSet(CacheTable table, NbdExports exports)
{
    public async Task<BackingEntry> RunAsync(BackingSetArgs args, CancellationToken cancel)
    {
        if (args.GcPercent is { } gc && (gc < BackingInfo.GcPercentMin || gc > BackingInfo.GcPercentMax))
            throw ControlException.Invalid($"--gc-percent must be {BackingInfo.GcPercentMin}..{BackingInfo.GcPercentMax}, not {gc}", "gc_percent");
        using (await table.EnterAsync(cancel).ConfigureAwait(false))
        {
            var backing = table.FindBacking(args.BackingId);
            if (backing.Running is not { } running || backing.Busy)
                throw ControlException.Conflict($"backing {backing.Id} is {backing.State}; only a running backing can be changed", $"backing {backing.Id}");
            if (args.GcPercent is { } percent)
            {
                running.SetGcPercent(percent);
                backing.Info = running.Info;
                Log.Notice($"backing {backing.Id}: gc_percent set to {percent}");
            }
            return Views.Backing(backing, exports);
        }
    }
}

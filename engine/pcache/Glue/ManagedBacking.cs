using PCache.Client;
using PCache.Engine.Backing;
using PCache.Engine.Cache;
using PCache.Engine.Layout;

namespace PCache.Daemon.Glue;

/// <summary>
/// One backing recorded on a started cache device, as the daemon sees it: running (attached and
/// exported), draining (backing-stop in progress), or kept aside — refused, unavailable or
/// corrupt — with its dirty data left in the cache.
/// </summary>
internal sealed class ManagedBacking(ManagedCache cache, BackingInfo info)
{
    public ManagedCache Cache { get; } = cache;

    public int Slot { get; } = info.BackingId;

    /// <summary>Daemon-wide id: slots of cache N are N×64 .. N×64+63, so ids never collide and need no storage.</summary>
    public int Id => Cache.Id * ControlProtocol.BackingsPerCache + Slot;

    public string ExportName => $"pcache{Id}";

    /// <summary>The backing's record as last read or written.</summary>
    public BackingInfo Info { get; set; } = info;

    public string State { get; set; } = BackingStates.Unavailable;

    /// <summary>Why it is not running (with what to do about it).</summary>
    public string? Error { get; set; }

    public IBackingDevice? Device { get; set; }

    public BackingCache? Running { get; set; }

    public CacheExport? Export { get; set; }

    /// <summary>Request latencies per operation, kept across re-attaches for as long as the daemon knows the backing.</summary>
    public RequestLatencies Latencies { get; } = new();

    /// <summary>For a backing kept aside: its status from a one-off replay (dirty bytes, used segments).</summary>
    public CacheStatus? OfflineStatus { get; set; }

    /// <summary>An operation (a drain) owns this backing; others get "busy".</summary>
    public bool Busy { get; set; }

    public string Path => Info.Path;

    /// <summary>Admission settings: kept by the daemon (not on media), applied whenever it runs.</summary>
    public long SequentialCutoff { get; set; }

    public int ReadAdmission { get; set; }

    public long DirtyBytes => Running is { } r ? Math.Max(0, r.DirtyBytes) : OfflineStatus?.DirtyBytes ?? 0;

    public void Run(IBackingDevice device, BackingCache running)
    {
        Device = device;
        Running = running;
        Info = running.Info;
        running.SequentialCutoff = SequentialCutoff;
        running.ReadAdmission = ReadAdmission;
        Export = new CacheExport(ExportName, running, Latencies);
        State = BackingStates.Running;
        Error = null;
        OfflineStatus = null;
    }

    /// <summary>
    /// Stop caching (ksets persisted, dirty data stays in pmem) and close the device. False when a
    /// request inside the engine outlived <paramref name="requestWait"/> and may still touch pmem.
    /// </summary>
    /// <summary>Set by <see cref="Shutdown"/> when only abandoned write-back I/O may still read pmem.</summary>
    public BackingCache? Lingering { get; private set; }

    public bool Shutdown(TimeSpan requestWait)
    {
        bool drained = true;
        try
        {
            if (Running is { } running)
            {
                drained = running.Stop(requestWait);
                Lingering = !drained && running.RequestsDrained ? running : null;
                if (running.WritebackAbandoned)
                    Log.Warning($"backing {Id} ({Path}): write-back I/O to the backing device did not return within {requestWait.TotalSeconds:0} s and was abandoned; " +
                        $"{ByteSize.Format(Math.Max(0, running.DirtyBytes))} dirty stay in the cache (nothing is lost: it is written back when the backing is started again)");
                if (!running.RequestsDrained) Log.Error($"backing {Id} ({Path}): a request inside the cache did not finish within {requestWait.TotalSeconds:0} s");
                else if (running.Requests(TimeSpan.Zero).InFlight is > 0 and var waiting)
                    Log.Warning($"backing {Id} ({Path}): {waiting} request(s) still waiting on the backing device after {requestWait.TotalSeconds:0} s; they fail when it answers");
                running.Dispose();
            }
        }
        finally
        {
            Device?.Dispose();
            Running = null;
            Device = null;
            Export = null;
        }
        return drained;
    }
}

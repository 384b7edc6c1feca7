using PCache.Engine.Backing;
using PCache.Engine.Cache;
using PCache.Engine.Pmem;

namespace PCache.Engine.Tests;

/// <summary>A cache device on crash-simulating media with one memory backing: the stand-ins for pmem and a disk.</summary>
internal sealed class Rig : IDisposable
{
    public const int SegShift = 20; // 1 MiB segments keep GC, wrap-around and full-cache cases cheap to reach

    public Rig(int segments, long backingSize, bool dataCrc = false, int gcPercent = 70, bool persistOnWrite = false)
    {
        Media = new CrashSimMedia(Layout.Geometry.SegmentsOffset + ((long)segments << SegShift));
        Backing = new MemoryBackingDevice(backingSize);
        Device = CacheDevice.Format(Media.Attach(), SegShift);
        Cache = Device.Create(new BackingOptions
        {
            Path = "mem:backing",
            CacheSize = (long)(segments) << SegShift,
            DataCrc = dataCrc,
            GcPercent = gcPercent,
            PersistOnWrite = persistOnWrite,
        }, Backing);
    }

    public CrashSimMedia Media { get; }
    public MemoryBackingDevice Backing { get; private set; }
    public CacheDevice Device { get; private set; }
    public BackingCache Cache { get; private set; }

    /// <summary>Power cut of pmem and disk together, then power on and replay.</summary>
    public void Crash(Random rng)
    {
        Media.Cut();                     // pmem first: no tail may move after the disk lost writes
        Backing = Backing.PowerCut(rng);
        Cache.Abandon();
        Media.Recover(rng);
        Reopen();
    }

    /// <summary>Graceful stop (ksets persisted), then open again.</summary>
    public void Restart()
    {
        Cache.Stop();
        Reopen();
    }

    private void Reopen()
    {
        Device = CacheDevice.Open(Media.Attach());
        Cache = Device.Attach(0, Backing);
    }

    public void Dispose()
    {
        try { Cache.Abandon(); } catch { }
        Media.Dispose();
    }
}

using PCache.Engine.Backing;
using PCache.Engine.Cache;
using PCache.Engine.Layout;
using PCache.Engine.Pmem;

namespace PCache.Engine.Tests;

/// <summary>A cache device on crash-simulating media with one memory backing: the stand-ins for pmem and a disk.</summary>
internal sealed class Rig : IDisposable
{
    public const int SegShift = 20; // 1 MiB segments keep GC, wrap-around and full-cache cases cheap to reach

    private readonly Random _diskRng;
    private MemoryBackingDevice? _diskAfterCut;

    public Rig(int segments, long backingSize, bool dataCrc = false, int gcPercent = 70, bool persistOnWrite = false, int seed = 0,
        CrashSimMedia.Medium medium = CrashSimMedia.Medium.Pmem, WritebackPacing? pacing = null)
    {
        Media = new CrashSimMedia(Layout.Geometry.SegmentsOffset + ((long)segments << SegShift), medium);
        Backing = new MemoryBackingDevice(backingSize);
        // pmem and the disk share one power supply: the disk loses its write cache at the very
        // instant pmem stops taking stores, whichever thread's store or fence tripped the cut.
        _diskRng = new Random(seed ^ 0x5EED);
        Media.PowerFailed = () => _diskAfterCut = Backing.PowerCut(_diskRng);
        Device = CacheDevice.Format(Media.Attach(), SegShift);
        Cache = Device.Create(new BackingOptions
        {
            Path = "mem:backing",
            CacheSize = (long)(segments) << SegShift,
            DataCrc = dataCrc,
            GcPercent = gcPercent,
            PersistOnWrite = persistOnWrite,
            // Unpaced by default: write-back then races the writers, which is what the crash
            // suites need to cut power in between; pacing only moves when write-back runs.
            Pacing = pacing ?? WritebackPacing.Unpaced,
        }, Backing);
    }

    public CrashSimMedia Media { get; }
    public MemoryBackingDevice Backing { get; private set; }
    public CacheDevice Device { get; private set; }
    public BackingCache Cache { get; private set; }

    /// <summary>Power cut of pmem and disk together, then power on and replay.</summary>
    public void Crash(Random rng)
    {
        PowerCut();
        Cache.Abandon();
        PowerOn(rng);
    }

    /// <summary>After a cut and once nothing uses the old cache: settle pmem, power on and replay.</summary>
    public void PowerOn(Random rng)
    {
        Media.Recover(rng);
        Reopen();
    }

    /// <summary>Cut the power (if a countdown has not already): returns the disk as it survived.</summary>
    public MemoryBackingDevice PowerCut()
    {
        Media.Cut();
        Backing = _diskAfterCut!;
        return Backing;
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

using PCache.Engine.Backing;
using PCache.Engine.Cache;
using PCache.Engine.Layout;
using PCache.Engine.Pmem;

namespace PCache.Engine.Tests;

/// <summary>
/// A backing that never answers must not hold a stop for ever: write-back I/O still out when the
/// stop timeout ends is abandoned, its kset stays dirty (dirty_tail does not move), the next start
/// writes it back, and the abandoned call, should it ever return, touches pmem no more.
/// </summary>
public unsafe class HungWritebackStopTests
{
    private const int S = SectorModel.Sector;
    private const int SegShift = 20;
    private static readonly TimeSpan Liveness = TimeSpan.FromSeconds(60);

    [Fact]
    public void Stop_abandons_write_back_a_hung_backing_never_answers_and_the_next_start_writes_the_data_back_OnMemoryPmem()
    {
        using var pmem = new MemoryPmem(Geometry.SegmentsOffset + (8L << SegShift));
        var disk = new MemoryBackingDevice(8 << 20);
        var hung = new HungBackingDevice(disk);
        var device = CacheDevice.Format(pmem, SegShift);
        var cache = device.Create(new BackingOptions { Path = "mem", CacheSize = 8L << SegShift }, hung);
        var model = new SectorModel(disk.Size / S);
        hung.Hang();
        var data = model.MakeWrite(0, 128, out long v);
        cache.Write(0, data, fua: true); // acknowledged and durable in pmem; write-back now blocks on the disk
        model.Wrote(0, 128, v, durable: true);
        Assert.True(hung.WaitForCaller(Liveness), "write-back never reached the backing");

        var stop = Task.Run(() => cache.Stop(TimeSpan.FromMilliseconds(200)));
        Assert.True(stop.Wait(Liveness), "stop waits for a backing that never answers");
        Assert.False(stop.Result, "stop reported pmem quiet although a write-back call is still out");
        Assert.True(cache.WritebackAbandoned);

        // The next start: the data is still dirty (held back until the disk answers, so write-back
        // cannot have run yet), served, and written back once the disk answers.
        var later = new HungBackingDevice(disk);
        later.Hang();
        var again = CacheDevice.Open(pmem).Attach(0, later);
        Assert.True(again.DirtyBytes >= 128 * S, $"only {again.DirtyBytes} bytes dirty after the abandoned write-back");
        model.VerifyAfterCrash(again, "after the restart");
        later.Answer();
        again.Drain();
        model.VerifyBacking(disk, "after the restart's drain");
        Assert.True(again.Stop());

        // The abandoned call returns at last: its thread ends without writing to pmem.
        var before = new ReadOnlySpan<byte>((void*)pmem.Base, (int)pmem.Length).ToArray();
        hung.Answer();
        Assert.True(hung.Caller!.Join(Liveness), "the abandoned write-back thread did not end");
        Assert.True(before.AsSpan().SequenceEqual(new ReadOnlySpan<byte>((void*)pmem.Base, (int)pmem.Length)), "the abandoned write-back wrote to pmem after the stop");
    }
}

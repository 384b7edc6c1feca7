namespace PCache.Engine.Backing;

/// <summary>
/// Test stand-in for a disk with a volatile write cache. Writes land in a cache of 512-byte
/// sectors and reach the durable image only at <see cref="Flush"/>; at a power cut each cached
/// sector is independently kept or lost at random, and nothing written after the cut survives.
/// </summary>
public sealed class MemoryBackingDevice : IBackingDevice
{
    private const int Sector = 512;
    private readonly byte[] _durable;
    private readonly Dictionary<long, byte[]> _volatile = new();
    private readonly Stack<byte[]> _spare = new(); // sector buffers a flush emptied: the power-loss soak writes millions
    private readonly object _lock = new();
    private bool _dead;

    public MemoryBackingDevice(long size, string path = "mem:backing")
    {
        Size = size;
        Path = path;
        _durable = new byte[size];
    }

    private MemoryBackingDevice(byte[] durable, string path)
    {
        _durable = durable;
        Size = durable.Length;
        Path = path;
    }

    public string Path { get; }

    public long Size { get; }

    /// <summary>When set, every call throws, to exercise error handling.</summary>
    public bool Failing { get; set; }

    public long Writes { get; private set; }

    public long Flushes { get; private set; }

    public void Read(long offset, Span<byte> destination)
    {
        lock (_lock)
        {
            Check();
            for (int i = 0; i < destination.Length; i += Sector)
            {
                long lba = (offset + i) / Sector;
                var src = _volatile.TryGetValue(lba, out var v) ? v : _durable.AsSpan((int)(lba * Sector), Sector);
                src.CopyTo(destination.Slice(i, Sector));
            }
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        lock (_lock)
        {
            Check();
            if (_dead) return;
            Writes++;
            for (int i = 0; i < source.Length; i += Sector)
            {
                long lba = (offset + i) / Sector;
                if (!_volatile.TryGetValue(lba, out var cached))
                    _volatile[lba] = cached = _spare.Count > 0 ? _spare.Pop() : new byte[Sector];
                source.Slice(i, Sector).CopyTo(cached);
            }
        }
    }

    public void Flush()
    {
        lock (_lock)
        {
            Check();
            if (_dead) return;
            Flushes++;
            foreach (var (lba, data) in _volatile)
            {
                data.CopyTo(_durable, lba * Sector);
                _spare.Push(data);
            }
            _volatile.Clear();
        }
    }

    public void Zero(long offset, long length, bool keepAllocated) => Write(offset, new byte[length]);

    private void Check()
    {
        if (Failing) throw new IOException($"{Path}: injected I/O error");
    }

    /// <summary>Power cut: later writes are lost; returns a device holding what survived.</summary>
    public MemoryBackingDevice PowerCut(Random rng)
    {
        lock (_lock)
        {
            _dead = true;
            foreach (var (lba, data) in _volatile)
                if (rng.Next(2) == 0) data.CopyTo(_durable, lba * Sector);
            _volatile.Clear();
            return new MemoryBackingDevice(_durable, Path);
        }
    }

    /// <summary>Part of <see cref="DurableImage"/>, without copying the rest of the disk.</summary>
    public void ReadDurable(long offset, Span<byte> destination)
    {
        lock (_lock) _durable.AsSpan(checked((int)offset), destination.Length).CopyTo(destination);
    }

    /// <summary>The durable image, as the disk would hold it after a power cut that lost all cached writes.</summary>
    public byte[] DurableImage()
    {
        lock (_lock) return (byte[])_durable.Clone();
    }

    public void Dispose() { }
}

using System.Runtime.InteropServices;

namespace PCache.Engine.Cache;

/// <summary>
/// One cached extent in DRAM: 32 bytes in a pooled array, no object per key. Offsets are relative
/// to the node's 4 MiB subtree window, which is what makes 32-bit fields enough.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KeyNode
{
    public uint Start;      // byte offset inside the subtree window
    public uint Length;
    public uint Segment;    // cache segment id (index in the backing's chain)
    public uint SegOffset;  // offset in that segment's data area; a placeholder's token
    public uint Gen;        // low 32 bits of the segment generation at allocation
    public int Left;
    public int Right;
    public uint Flags;

    public const uint FlagClean = 1u << 1;   // same bits as KeyRecord
    public const uint FlagZero = 1u << 2;
    public const uint FlagNoHole = 1u << 3;
    public const uint FlagEmpty = 1u << 8;   // placeholder for a read miss in flight, never persisted

    public readonly uint End => Start + Length;
    public readonly bool IsEmpty => (Flags & FlagEmpty) != 0;
    public readonly bool HasData => (Flags & (FlagEmpty | FlagZero)) == 0;
}

/// <summary>
/// Chunked storage for every node of one cache. Chunks never move, so a node index stays valid;
/// allocation hands out batches to subtrees so the shared lock is rarely taken.
/// </summary>
internal sealed class KeyArena
{
    public const int ChunkShift = 12;
    private const int ChunkSize = 1 << ChunkShift;
    private const int ChunkMask = ChunkSize - 1;
    private KeyNode[][] _chunks = new KeyNode[16][];
    private int _chunkCount;
    private int _next;
    private readonly object _lock = new();

    public ref KeyNode this[int index] => ref _chunks[index >> ChunkShift][index & ChunkMask];

    /// <summary>Bytes of DRAM the arena holds.</summary>
    public long Bytes => (long)_chunkCount * ChunkSize * System.Runtime.CompilerServices.Unsafe.SizeOf<KeyNode>();

    /// <summary>Reserve <paramref name="count"/> fresh consecutive nodes; returns the first index.</summary>
    public int Grab(int count)
    {
        lock (_lock)
        {
            int first = _next;
            int end = first + count;
            while (end > _chunkCount * ChunkSize)
            {
                if (_chunkCount == _chunks.Length)
                {
                    var bigger = new KeyNode[_chunks.Length * 2][];
                    Array.Copy(_chunks, bigger, _chunks.Length);
                    Volatile.Write(ref _chunks, bigger);
                }
                _chunks[_chunkCount] = new KeyNode[ChunkSize];
                _chunkCount++;
            }
            _next = end;
            return first;
        }
    }
}

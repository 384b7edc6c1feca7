using PCache.Engine.Cache;
using PCache.Engine.Pmem;

namespace PCache.Daemon.Glue;

/// <summary>A started cache device: its mapping, its engine object and the backings it records.</summary>
internal sealed class ManagedCache(int id, string path, MappedPmem pmem, CacheDevice device, bool dataCrc)
{
    public int Id { get; } = id;

    public string Path { get; } = path;

    public MappedPmem Pmem { get; } = pmem;

    public CacheDevice Device { get; } = device;

    /// <summary>Backings created on this cache get data CRCs (cache-start --data-crc; the flag is then recorded per backing).</summary>
    public bool DataCrc { get; } = dataCrc;

    /// <summary>By slot on the device.</summary>
    public SortedDictionary<int, ManagedBacking> Backings { get; } = [];
}

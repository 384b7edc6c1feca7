using PCache.Engine.Backing;
using PCache.Engine.Cache;
using PCache.Engine.Pmem;

namespace PCache.NbdHost;

/// <summary>
/// The engine as the daemon runs it: one cache device, one cached backing per export, the
/// device formatted when blank and replayed (backings reattached by path) when not.
/// </summary>
internal sealed class EngineHost : IDisposable
{
    private readonly PmemRegion _pmem;
    private readonly CacheDevice _device;

    private EngineHost(PmemRegion pmem, CacheDevice device, List<EngineBlockExport> exports)
    {
        _pmem = pmem;
        _device = device;
        Exports = exports;
    }

    public IReadOnlyList<EngineBlockExport> Exports { get; }

    public static EngineHost Start(string pmemArg, long cacheSize, int segmentShift, List<FileBlockExport> files)
    {
        int colon = pmemArg.LastIndexOf(':');
        string path = colon > 0 ? pmemArg[..colon] : pmemArg;
        long size = colon > 0 ? ParseSize(pmemArg[(colon + 1)..]) : 0;
        var pmem = MappedPmem.Open(path, size);
        var device = CacheDevice.IsBlank(pmem) ? CacheDevice.Format(pmem, segmentShift) : CacheDevice.Open(pmem);
        var exports = new List<EngineBlockExport>();
        foreach (var file in files)
        {
            var backing = FileBackingDevice.Open(file.Description);
            var stored = device.StoredBackings.FirstOrDefault(b => b.Path == file.Description);
            var cache = stored is not null
                ? device.Attach(stored.BackingId, backing)
                : device.Create(new BackingOptions { Path = file.Description, CacheSize = cacheSize }, backing);
            exports.Add(new EngineBlockExport(file.Name, cache));
        }
        return new EngineHost(pmem, device, exports);
    }

    public void Stop() => _device.Dispose();

    public void Dispose()
    {
        _device.Dispose();
        _pmem.Dispose();
    }

    private static long ParseSize(string text)
    {
        long unit = 1;
        if (text.Length > 0 && "KMGT".IndexOf(char.ToUpperInvariant(text[^1])) is int k and >= 0)
        {
            unit = 1L << (10 * (k + 1));
            text = text[..^1];
        }
        return long.Parse(text, System.Globalization.CultureInfo.InvariantCulture) * unit;
    }
}

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

    public static EngineHost Start(string path, long size, long cacheSize, int segmentShift, List<FileBlockExport> files)
    {
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
}

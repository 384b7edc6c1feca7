namespace PCache.Nbd;

/// <summary>A thread-safe, mutable <see cref="IExportCatalog"/>: the daemon adds an export per started backing.</summary>
public sealed class ExportCatalog : IExportCatalog
{
    private readonly object gate = new();
    private readonly Dictionary<string, IBlockExport> exports = new(StringComparer.Ordinal);
    private IReadOnlyList<IBlockExport> snapshot = [];

    public ExportCatalog(params IEnumerable<IBlockExport> exports)
    {
        foreach (var export in exports)
            Add(export);
    }

    /// <exception cref="ArgumentException">An export of that name exists already.</exception>
    public void Add(IBlockExport export)
    {
        lock (gate)
        {
            if (!exports.TryAdd(export.Name, export))
                throw new ArgumentException($"an export named '{export.Name}' exists already", nameof(export));
            snapshot = exports.Values.OrderBy(e => e.Name, StringComparer.Ordinal).ToArray();
        }
    }

    public bool Remove(string name)
    {
        lock (gate)
        {
            if (!exports.Remove(name))
                return false;
            snapshot = exports.Values.OrderBy(e => e.Name, StringComparer.Ordinal).ToArray();
            return true;
        }
    }

    public bool TryGet(string name, out IBlockExport export)
    {
        lock (gate)
            return exports.TryGetValue(name, out export!);
    }

    public IReadOnlyList<IBlockExport> List() => Volatile.Read(ref snapshot);
}

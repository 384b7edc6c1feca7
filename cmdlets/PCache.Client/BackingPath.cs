namespace PCache.Client;

/// <summary>
/// A backing is named by a path (file or block device) or by a remote volume's URI:
/// <c>nbd://host[:port]/export</c>, <c>nbd+unix:///export?socket=PATH</c> (libnbd's syntax) or
/// <c>rbd:pool/image[:conf=PATH][:id=USER]</c> (qemu's). Front-ends make paths absolute and pass
/// URIs through untouched; the daemon parses them.
/// </summary>
public static class BackingPath
{
    public static bool IsRemote(string path) =>
        path.StartsWith("nbd://", StringComparison.OrdinalIgnoreCase)
        || path.StartsWith("nbd+", StringComparison.OrdinalIgnoreCase)
        || path.StartsWith("nbds://", StringComparison.OrdinalIgnoreCase)
        || path.StartsWith("nbds+", StringComparison.OrdinalIgnoreCase)
        || path.StartsWith("rbd:", StringComparison.Ordinal);

    /// <summary>An absolute path for a local device; a remote URI as given.</summary>
    public static string Normalize(string path) => IsRemote(path) ? path : Path.GetFullPath(path);
}

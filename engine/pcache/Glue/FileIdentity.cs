using PCache.Engine.Platform;

namespace PCache.Daemon.Glue;

/// <summary>Whether two names reach the same file or device, so neither is started twice under another name.</summary>
internal static class FileIdentity
{
    public static bool Same(string startedPath, FileStat candidate)
    {
        if (candidate.Kind == FileKind.Missing) return false;
        var st = FileStat.Of(startedPath);
        return st.Kind == candidate.Kind && (st.Kind == FileKind.Regular
            ? st.Inode == candidate.Inode && st.DevMajor == candidate.DevMajor && st.DevMinor == candidate.DevMinor
            : st.RdevMajor == candidate.RdevMajor && st.RdevMinor == candidate.RdevMinor);
    }
}

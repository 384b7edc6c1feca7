using System.Text;
using PCache.Engine.Platform;

namespace PCache.Daemon.Glue;

/// <summary>
/// Who a backing device is, beyond its path: recorded as a 64-bit fingerprint when a backing is
/// created and compared on every re-attach, so that writing cached dirty data over a different
/// device (a file replaced at the same path, disks renumbered after a reboot) is refused.
/// Files are known by inode and birth time; block devices by a stable hardware id from sysfs
/// (wwid, serial, dm/md uuid) plus partition number when one exists, else by major:minor, and
/// always by size.
/// </summary>
internal sealed record BackingIdentity(ulong Fingerprint, string Description)
{
    public static BackingIdentity Of(string path, long size)
    {
        var st = FileStat.Of(path);
        string canonical = st.Kind switch
        {
            FileKind.Regular => $"file inode {st.Inode}, born {Born(st.BirthTimeSeconds)}",
            FileKind.BlockDevice => $"block device {BlockId(st.RdevMajor, st.RdevMinor)}, {size} bytes",
            FileKind.Missing => throw new IOException($"{path}: no such backing device"),
            _ => throw new IOException($"{path}: not a regular file or block device"),
        };
        return new BackingIdentity(Hash(canonical), canonical);
    }

    /// <summary>A remote volume, known by what its server says it is (export and size, RBD image id).</summary>
    public static BackingIdentity Remote(string description) => new(Hash(description), description);

    private static string Born(long seconds) =>
        seconds == 0 ? "(birth time unknown)" : DateTimeOffset.FromUnixTimeSeconds(seconds).ToString("yyyy-MM-ddTHH:mm:ssZ");

    /// <summary>The most stable name sysfs offers for a block device, e.g. "wwid eui.0025...", "serial QM0001 part 2".</summary>
    private static string BlockId(uint major, uint minor)
    {
        string dir = $"/sys/dev/block/{major}:{minor}";
        string? part = null;
        string? disk = null;
        try
        {
            var resolved = new DirectoryInfo(dir).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? dir;
            if (File.Exists(Path.Combine(resolved, "partition")))
            {
                part = Read(Path.Combine(resolved, "partition"));
                disk = Path.GetDirectoryName(resolved);
            }
            else
            {
                disk = resolved;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }

        if (disk is not null)
        {
            foreach (var (file, label) in new[]
            {
                ("wwid", "wwid"), ("device/wwid", "wwid"), ("serial", "serial"), ("device/serial", "serial"),
                ("dm/uuid", "dm uuid"), ("md/uuid", "md uuid"),
            })
            {
                string? value = Read(Path.Combine(disk, file));
                if (!string.IsNullOrEmpty(value))
                    return part is null ? $"{label} {value}" : $"{label} {value} part {part}";
            }
        }
        return $"{major}:{minor}";
    }

    private static string? Read(string path)
    {
        try { return File.Exists(path) ? File.ReadAllText(path).Trim() : null; }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>FNV-1a; 0 is kept for "no fingerprint recorded" (backings created by other tools).</summary>
    private static ulong Hash(string text)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(text))
        {
            h ^= b;
            h *= 1099511628211UL;
        }
        return h == 0 ? 1 : h;
    }
}

using System.Runtime.InteropServices;

namespace PCache.Daemon;

/// <summary>The libc calls the daemon needs beyond the engine's: credentials, groups, ownership.</summary>
internal static unsafe partial class Native
{
    public const int SOL_SOCKET = 1;
    public const int SO_PEERCRED = 17;
    public const int SO_PEERGROUPS = 59;
    public const int ERANGE = 34;

    [StructLayout(LayoutKind.Sequential)]
    public struct UCred
    {
        public int Pid;
        public uint Uid;
        public uint Gid;
    }

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, void* value, ref uint length);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int chown(string path, uint owner, uint group);

    [LibraryImport("libc")]
    public static partial uint getuid();

    [LibraryImport("libc")]
    public static partial uint getgid();

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr getgrnam(string name);

    [LibraryImport("libc")]
    private static partial IntPtr getgrgid(uint gid);

    [LibraryImport("libc", SetLastError = true)]
    public static partial IntPtr write(int fd, byte* buffer, nuint count);

    /// <summary>A group's id by name (NSS-aware, so LDAP groups work too); null when there is none.</summary>
    public static uint? GroupId(string name)
    {
        // struct group { char *gr_name; char *gr_passwd; gid_t gr_gid; char **gr_mem; }
        IntPtr g = getgrnam(name);
        return g == IntPtr.Zero ? null : *(uint*)((byte*)g + 2 * sizeof(IntPtr));
    }

    public static string? GroupName(uint gid)
    {
        IntPtr g = getgrgid(gid);
        return g == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(*(IntPtr*)g);
    }
}

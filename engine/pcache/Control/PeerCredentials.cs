using System.Net.Sockets;

namespace PCache.Daemon.Control;

/// <summary>
/// Who is on the other end of a Unix socket, from the kernel (SO_PEERCRED, SO_PEERGROUPS): the
/// credentials the peer had when it connected, which it cannot forge.
/// </summary>
internal readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid, uint[] Groups)
{
    public static unsafe PeerCredentials? Of(Socket socket)
    {
        int fd = (int)socket.SafeHandle.DangerousGetHandle();
        Native.UCred cred;
        uint length = (uint)sizeof(Native.UCred);
        if (Native.getsockopt(fd, Native.SOL_SOCKET, Native.SO_PEERCRED, &cred, ref length) != 0) return null;
        return new PeerCredentials(cred.Pid, cred.Uid, cred.Gid, ReadGroups(fd));
    }

    private static unsafe uint[] ReadGroups(int fd)
    {
        var groups = new uint[64];
        while (true)
        {
            uint length = (uint)(groups.Length * sizeof(uint));
            int rc;
            fixed (uint* p = groups) rc = Native.getsockopt(fd, Native.SOL_SOCKET, Native.SO_PEERGROUPS, p, ref length);
            if (rc == 0) return groups[..(int)(length / sizeof(uint))];
            // ERANGE: the length now says how much room the list needs. Anything else: kernels
            // before 4.13 lack SO_PEERGROUPS, and the primary group is all we can check.
            if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() != Native.ERANGE || length <= groups.Length * sizeof(uint) || length > 65536 * sizeof(uint))
                return [];
            groups = new uint[length / sizeof(uint)];
        }
    }
}

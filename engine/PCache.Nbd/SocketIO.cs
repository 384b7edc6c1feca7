using System.Net.Sockets;

namespace PCache.Nbd;

/// <summary>Blocking exact-length socket I/O; the NBD stream has no framing beyond lengths, so partial transfers must loop.</summary>
internal static class SocketIO
{
    /// <summary>Fills <paramref name="buffer"/>; false on a clean end of stream before it is full.</summary>
    public static bool ReceiveExactly(this Socket socket, Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            int n = socket.Receive(buffer, SocketFlags.None);
            if (n == 0)
                return false;
            buffer = buffer[n..];
        }
        return true;
    }

    public static void SendAll(this Socket socket, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
            data = data[socket.Send(data, SocketFlags.None)..];
    }

    /// <summary>Reads and throws away <paramref name="count"/> bytes; false on end of stream.</summary>
    public static bool Discard(this Socket socket, long count, Span<byte> scratch)
    {
        while (count > 0)
        {
            int n = socket.Receive(scratch[..(int)Math.Min(count, scratch.Length)], SocketFlags.None);
            if (n == 0)
                return false;
            count -= n;
        }
        return true;
    }
}

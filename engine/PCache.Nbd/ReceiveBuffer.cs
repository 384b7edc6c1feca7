using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;

namespace PCache.Nbd;

/// <summary>
/// The input side of a connection in the transmission phase. One receive usually brings several
/// pipelined requests, so requests are parsed out of a large buffer instead of being read one syscall
/// at a time. Before it blocks for more input it flushes the replies the reader deferred: the client
/// may be waiting for them before it sends anything else.
/// Only the thread that currently owns reading may use it.
/// </summary>
internal sealed class ReceiveBuffer : IDisposable
{
    private const int Size = 256 * 1024;

    /// <summary>Payloads up to this size are gathered through the buffer (batched with the requests around them); larger ones are received straight into their destination.</summary>
    private const int BufferedPayloadLimit = Size / 2;

    private readonly Socket socket;
    private readonly ReplyWriter writer;
    private readonly InputPoller poller;
    private byte[] buffer = ArrayPool<byte>.Shared.Rent(Size);
    private int start;
    private int end;

    public ReceiveBuffer(Socket socket, ReplyWriter writer)
    {
        this.socket = socket;
        this.writer = writer;
        poller = new InputPoller(socket);
    }

    /// <summary>More input is already here (the client pipelined): replies may wait for a batch.</summary>
    public bool HasBufferedData => start != end;

    /// <summary>The next <paramref name="count"/> bytes (at most half the buffer), receiving as needed; empty at the end of the stream.</summary>
    public ReadOnlySpan<byte> Take(int count)
    {
        if (!Fill(count))
            return default;
        var taken = buffer.AsSpan(start, count);
        start += count;
        return taken;
    }

    /// <summary>Fills <paramref name="destination"/> from the stream; false at its end.</summary>
    public bool Receive(Span<byte> destination)
    {
        if (destination.Length <= BufferedPayloadLimit)
        {
            var data = Take(destination.Length);
            data.CopyTo(destination);
            return data.Length == destination.Length;
        }
        int buffered = Math.Min(end - start, destination.Length);
        buffer.AsSpan(start, buffered).CopyTo(destination);
        start += buffered;
        writer.Flush();
        return socket.ReceiveExactly(destination[buffered..]);
    }

    /// <summary>Consumes and drops <paramref name="count"/> bytes; false at the end of the stream.</summary>
    public bool Skip(long count)
    {
        int buffered = (int)Math.Min(end - start, count);
        start += buffered;
        count -= buffered;
        if (count == 0)
            return true;
        start = end = 0;   // the buffer is empty now, so it doubles as scratch space
        writer.Flush();
        return socket.Discard(count, buffer);
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(buffer);
        buffer = [];
    }

    private bool Fill(int count)
    {
        while (end - start < count)
        {
            if (start == end)
                start = end = 0;
            else if (buffer.Length - start < count)
            {
                Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                end -= start;
                start = 0;
            }
            writer.Flush();
            int n = poller.TryReceive(buffer.AsSpan(end));
            if (n < 0)
            {
                long waitFrom = Stopwatch.GetTimestamp();
                n = socket.Receive(buffer.AsSpan(end), SocketFlags.None);
                poller.Blocked(Stopwatch.GetTimestamp() - waitFrom);
            }
            if (n == 0)
                return false;
            end += n;
        }
        return true;
    }
}

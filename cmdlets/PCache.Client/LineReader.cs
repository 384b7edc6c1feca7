using System.Net.Sockets;

namespace PCache.Client;

/// <summary>What <see cref="LineReader.ReadLineAsync"/> found.</summary>
public enum LineStatus
{
    /// <summary>A complete line (or the unterminated last bytes before end of stream).</summary>
    Line,

    /// <summary>More than the limit arrived without a newline; the stream cannot be resynchronised.</summary>
    TooLong,

    /// <summary>The peer closed its side and nothing is left.</summary>
    End,
}

/// <summary>
/// Reads newline-terminated lines from a socket into one reusable buffer that never grows past
/// the limit, so a peer sending megabytes without a newline costs at most the limit in memory.
/// A trailing "\r" is dropped. The returned line is valid until the next call.
/// </summary>
public sealed class LineReader
{
    private readonly int _max;
    private byte[] _buffer;
    private int _start, _end, _scanned;
    private bool _eof;

    public LineReader(int maxLineBytes, int initialBytes = 4096)
    {
        _max = maxLineBytes;
        _buffer = new byte[Math.Min(initialBytes, maxLineBytes + 1)];
    }

    /// <summary>Bytes received but not yet returned as a line.</summary>
    public int Pending => _end - _start;

    public async ValueTask<(LineStatus Status, ReadOnlyMemory<byte> Line)> ReadLineAsync(Socket socket, CancellationToken cancel)
    {
        while (true)
        {
            int nl = Array.IndexOf(_buffer, (byte)'\n', _scanned, _end - _scanned);
            if (nl >= 0)
            {
                var line = Trim(_start, nl);
                _start = _scanned = nl + 1;
                return (LineStatus.Line, line);
            }
            _scanned = _end;
            if (_end - _start > _max) return (LineStatus.TooLong, default);
            if (_eof)
            {
                if (_end == _start) return (LineStatus.End, default);
                var rest = Trim(_start, _end);
                _start = _scanned = _end;
                return (LineStatus.Line, rest);
            }
            MakeRoom();
            int n = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancel).ConfigureAwait(false);
            if (n == 0) _eof = true;
            else _end += n;
        }
    }

    private ReadOnlyMemory<byte> Trim(int start, int end)
    {
        if (end > start && _buffer[end - 1] == '\r') end--;
        return _buffer.AsMemory(start, end - start);
    }

    private void MakeRoom()
    {
        if (_end < _buffer.Length) return;
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _scanned -= _start;
            _start = 0;
            if (_end < _buffer.Length) return;
        }
        Array.Resize(ref _buffer, Math.Min(_buffer.Length * 2, _max + 1));
    }
}

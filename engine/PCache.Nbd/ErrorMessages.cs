using System.Text;

namespace PCache.Nbd;

/// <summary>Short texts for structured ERROR chunks, encoded once.</summary>
internal static class ErrorMessages
{
    private static readonly byte[] Invalid = Encoding.UTF8.GetBytes("invalid request (range, alignment, flags or command)");
    private static readonly byte[] Overflow = Encoding.UTF8.GetBytes("request larger than the maximum payload");
    private static readonly byte[] Shutdown = Encoding.UTF8.GetBytes("server is shutting down");
    private static readonly byte[] Io = Encoding.UTF8.GetBytes("I/O error");
    private static readonly byte[] Other = [];

    public static ReadOnlySpan<byte> For(NbdErrno error) => error switch
    {
        NbdErrno.EINVAL => Invalid,
        NbdErrno.EOVERFLOW => Overflow,
        NbdErrno.ESHUTDOWN => Shutdown,
        NbdErrno.EIO => Io,
        _ => Other,
    };
}

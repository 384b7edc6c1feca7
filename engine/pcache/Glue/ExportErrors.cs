using PCache.Engine.Cache;
using PCache.Nbd;

namespace PCache.Daemon.Glue;

/// <summary>
/// Engine exceptions in NBD's terms. Only failures pay for this: the request path calls it from an
/// exception filter, so a successful request allocates nothing here.
/// </summary>
internal static class ExportErrors
{
    private static long _lastLogged;

    public static BlockIOException ToNbd(Exception e, string export, string operation, long offset)
    {
        var errno = e switch
        {
            CacheStoppedException or ObjectDisposedException => NbdErrno.ESHUTDOWN,
            ArgumentException => NbdErrno.EINVAL,
            OutOfMemoryException => NbdErrno.ENOMEM,
            _ => NbdErrno.EIO,
        };
        if (errno == NbdErrno.EIO) LogRarely($"{export}: {operation} at {offset} failed: {e.Message}");
        return new BlockIOException(errno, e.Message);
    }

    /// <summary>A failing device fails every request; one line per second is enough to see it.</summary>
    private static void LogRarely(string message)
    {
        long now = Environment.TickCount64;
        long last = Interlocked.Read(ref _lastLogged);
        if (now - last < 1000 || Interlocked.CompareExchange(ref _lastLogged, now, last) != last) return;
        Log.Error(message);
    }
}

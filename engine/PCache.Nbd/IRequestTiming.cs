namespace PCache.Nbd;

/// <summary>
/// Optional for an <see cref="IBlockExport"/>: told when each request it ran has been answered, with the
/// <see cref="System.Diagnostics.Stopwatch"/> timestamp of the moment the request was received in full,
/// so latency covers queueing and the reply, not only the export call. Called on the request's thread
/// for every request that reached the export (failed ones too); it must be quick and must not throw.
/// </summary>
public interface IRequestTiming
{
    void Answered(RequestKind kind, long receivedTimestamp);
}

/// <summary>The NBD commands that reach an export (values are the wire's command numbers).</summary>
public enum RequestKind : ushort
{
    Read = 0,
    Write = 1,
    Flush = 3,
    Trim = 4,
    Cache = 5,
    WriteZeroes = 6,
    BlockStatus = 7,
}

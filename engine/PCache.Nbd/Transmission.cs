using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;

namespace PCache.Nbd;

/// <summary>
/// The transmission phase of one connection. The connection's thread reads requests (many per
/// receive when the client pipelines) and validates them. While requests are fast it runs them itself,
/// deferring their replies and sending them in one batch before it waits for more input: on a machine
/// where client and server share the cores, thread hand-offs and per-reply syscalls cost more than the
/// requests (measured: about half the IOPS at queue depth 1 with a hand-off per request, and a quarter
/// at depth 32 with 16 eagerly woken workers). Once requests turn out slow (I/O-bound) they go to
/// <see cref="RequestWorkers"/> and run concurrently, replying in completion order; and when one
/// unexpectedly takes long on the reading thread, <see cref="StallWatchdog"/> has another thread take
/// over reading, so a slow request never keeps the ones behind it unread (or their replies unsent) for long.
/// </summary>
internal sealed class Transmission
{
    /// <summary>READs up to this size get room for their reply header in front of the data (one send instead of two).</summary>
    private const int InlineHeaderReadLimit = 64 * 1024;

    private readonly Socket socket;
    private readonly Session session;
    private readonly IBlockExport export;
    private readonly NbdServerOptions options;
    private readonly Func<bool> stopping;
    private readonly Action<string> log;
    private readonly ReplyWriter writer;
    private readonly RequestWorkers workers;
    private readonly IRequestTiming? timing;

    private readonly InFlightRequests inFlight;
    private readonly ReceiveBuffer input;

    /// <summary>Requests slower than this on average are not run on the reading thread.</summary>
    private static readonly long InlineLimit = Stopwatch.Frequency / 20_000;   // 50 µs

    private long averageTicks;   // moving average of execution time; racy updates are fine for a heuristic

    // Reading may move between threads (see RescueStalledReader): the thread running the read loop owns
    // the receive buffer. readerState = epoch * 2 + (1 while the reader runs a request itself); a takeover
    // starts the next epoch, so a reader that comes back from its request knows whether it still owns reading.
    private long readerState;
    private long inlineSince;
    private readonly ManualResetEventSlim readingEnded = new(false);

    // Readers that lost their role wait here as spares for the next takeover, so a reader that keeps
    // stalling (say, a CPU-starved machine) does not cost a new thread each time.
    private readonly object spareGate = new();
    private int parkedSpares;
    private long handoffEpoch = -1;

    public Transmission(Socket socket, Session session, NbdServerOptions options, Func<bool> stopping, Action<string> log)
    {
        this.socket = socket;
        this.session = session;
        export = session.Export;
        timing = export as IRequestTiming;
        this.options = options;
        this.stopping = stopping;
        this.log = log;
        writer = new ReplyWriter(socket);
        input = new ReceiveBuffer(socket, writer);
        inFlight = new InFlightRequests(options.MaxInFlightRequestsPerConnection, options.MaxInFlightBytesPerConnection, writer.Flush);
        workers = new RequestWorkers(r => Execute(r, defer: false), inFlight.MaxRequests,
            options.ActiveWorkersPerConnection, options.WorkersPerConnection, "nbd-worker " + export.Name);
    }

    public void Run()
    {
        StallWatchdog.Register(this);
        try
        {
            ReaderLoop(0);
            readingEnded.Wait();
        }
        finally
        {
            StallWatchdog.Unregister(this);
            // In-flight requests still complete and reply (DISC and graceful stop promise that).
            inFlight.WaitUntilNone();
            workers.Stop();
            writer.Close();
            input.Dispose();
        }
    }

    /// <summary>The reading thread is running a request itself right now.</summary>
    public bool RunningInline => (Volatile.Read(ref readerState) & 1) != 0;

    /// <summary>Called by the watchdog: if the reader has been running one request for too long, read on another thread.</summary>
    public void RescueStalledReader(long now)
    {
        long state = Volatile.Read(ref readerState);
        if ((state & 1) == 0 || now - Volatile.Read(ref inlineSince) <= StallWatchdog.Threshold
            || Interlocked.CompareExchange(ref readerState, state + 1, state) != state)
            return;
        long epoch = (state + 1) >> 1;
        lock (spareGate)
        {
            if (parkedSpares > 0 && handoffEpoch < 0)
            {
                handoffEpoch = epoch;
                Monitor.Pulse(spareGate);
                return;
            }
        }
        new Thread(() => ReaderLoop(epoch)) { IsBackground = true, Name = "nbd-reader " + export.Name }.Start();
    }

    /// <summary>Reads while this thread owns reading; after losing it, waits as a spare for the next takeover.</summary>
    private void ReaderLoop(long epoch)
    {
        while (ReadOnThisThread(epoch))
        {
            lock (spareGate)
            {
                parkedSpares++;
                while (handoffEpoch < 0 && !readingEnded.IsSet)
                    Monitor.Wait(spareGate);
                parkedSpares--;
                if (handoffEpoch < 0)
                    return;   // the stream ended
                epoch = handoffEpoch;
                handoffEpoch = -1;
            }
        }
    }

    /// <summary>Runs the read loop for one epoch; true when another thread took over reading, false when the stream ended.</summary>
    private bool ReadOnThisThread(long epoch)
    {
        try
        {
            writer.Flush();   // after a takeover: replies the stuck reader deferred
            if (!ReadRequests(epoch))
                return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The client went away or the server closed our input: either way, stop reading.
        }
        catch (Exception e)
        {
            log($"reader failed: {e}");
            HardClose();
        }
        lock (spareGate)
        {
            readingEnded.Set();
            Monitor.PulseAll(spareGate);
        }
        return false;
    }

    /// <summary>Reads and dispatches until the stream ends (true) or another thread took over reading (false).</summary>
    private bool ReadRequests(long epoch)
    {
        long runningInline = epoch * 2 + 1;
        while (true)
        {
            var header = input.Take(NbdWire.RequestHeaderSize);
            if (header.IsEmpty)
                return true;
            if (BinaryPrimitives.ReadUInt32BigEndian(header) != NbdMagic.Request)
            {
                log($"bad request magic 0x{BinaryPrimitives.ReadUInt32BigEndian(header):x8} on export {export.Name}; disconnecting");
                HardClose();
                return true;
            }
            var flags = (CommandFlags)BinaryPrimitives.ReadUInt16BigEndian(header[4..]);
            var command = (NbdCommand)BinaryPrimitives.ReadUInt16BigEndian(header[6..]);
            ulong cookie = BinaryPrimitives.ReadUInt64BigEndian(header[8..]);
            ulong offset = BinaryPrimitives.ReadUInt64BigEndian(header[16..]);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(header[24..]);

            if (command == NbdCommand.Disconnect)
                return true;

            var error = stopping() ? NbdErrno.ESHUTDOWN : RequestValidator.Validate(session, command, flags, offset, length);
            if (error != NbdErrno.None)
            {
                // A rejected WRITE still has its payload on the wire: consume it or the stream loses sync.
                if (command == NbdCommand.Write && length > 0)
                {
                    if (length > options.MaxDrainBytes)
                    {
                        log($"rejected WRITE of {length} bytes is too large to drain; disconnecting");
                        HardClose();
                        return true;
                    }
                    if (!input.Skip(length))
                        return true;
                }
                ReplyError(command, cookie, error, defer: true);
                continue;
            }

            long cost = command is NbdCommand.Read or NbdCommand.Write ? length : 0;
            var request = inFlight.Acquire(cost);
            request.Command = command;
            request.Flags = flags;
            request.Cookie = cookie;
            request.Offset = offset;
            request.Length = length;
            if (command == NbdCommand.Read)
            {
                request.DataOffset = length <= InlineHeaderReadLimit ? NbdWire.ReadPrefixSize : 0;
                request.RentBuffer(request.DataOffset + (int)length);
            }
            else if (command == NbdCommand.Write)
            {
                request.DataOffset = 0;
                request.RentBuffer((int)length);
                if (!input.Receive(request.Buffer.AsSpan(0, (int)length)))
                {
                    inFlight.Release(request);
                    return true;
                }
            }
            request.ReceivedAt = Stopwatch.GetTimestamp();

            if (Volatile.Read(ref averageTicks) < InlineLimit)
            {
                long now = Stopwatch.GetTimestamp();
                Volatile.Write(ref inlineSince, now);
                Volatile.Write(ref readerState, runningInline);   // only the owner writes while not running inline
                StallWatchdog.NoteInlineRequest(now);
                // Defer the reply only while more requests are buffered: the last one of a batch goes out at
                // once, together with the deferred ones (and without the copy into the batch).
                if (!Execute(request, defer: input.HasBufferedData, runningInline))
                {
                    writer.Flush();
                    return false;
                }
            }
            else
                workers.Enqueue(request);
        }
    }

    /// <summary>
    /// Runs one request and replies. A reader running it itself passes its <paramref name="runningInline"/>
    /// state: the export call is the part that may stall, so the reader's claim on reading ends with it,
    /// before the reply (a send blocked by a client that does not read is back-pressure, not a stall).
    /// Returns false when another thread took over reading meanwhile.
    /// </summary>
    private bool Execute(NbdRequest request, bool defer, long runningInline = -1)
    {
        long started = Stopwatch.GetTimestamp();
        var error = NbdErrno.None;
        int extents = 0;
        try
        {
            long offset = (long)request.Offset;
            switch (request.Command)
            {
                case NbdCommand.Read:
                    export.Read(offset, request.Buffer.AsSpan(request.DataOffset, (int)request.Length));
                    break;
                case NbdCommand.Write:
                    export.Write(offset, request.Buffer.AsSpan(0, (int)request.Length), request.Fua);
                    break;
                case NbdCommand.Flush:
                    export.Flush();
                    break;
                case NbdCommand.Trim:
                    export.Trim(offset, request.Length, request.Fua);
                    break;
                case NbdCommand.WriteZeroes:
                    export.WriteZeroes(offset, request.Length, (request.Flags & CommandFlags.NoHole) != 0, request.Fua);
                    break;
                case NbdCommand.Cache:
                    export.Cache(offset, request.Length);
                    break;
                case NbdCommand.BlockStatus:
                    extents = QueryBlockStatus(request);
                    break;
            }
        }
        catch (BlockIOException e)
        {
            error = WireError(request, e.Error);
        }
        catch (Exception e)
        {
            log($"export {export.Name}: {request.Command} at {request.Offset} failed: {e.Message}");
            error = NbdErrno.EIO;
        }
        // A sample counts at most twice the inline limit: one request that was merely preempted (a busy
        // machine) must not send the next dozen through a thread hand-off each, while a run of requests
        // that really wait (I/O) still moves them to the workers within a few.
        long took = Math.Min(Stopwatch.GetTimestamp() - started, 2 * InlineLimit);
        Volatile.Write(ref averageTicks, averageTicks + (took - averageTicks) / 8);
        bool stillReading = runningInline < 0
            || Interlocked.CompareExchange(ref readerState, runningInline - 1, runningInline) == runningInline;

        if (error != NbdErrno.None)
            ReplyError(request.Command, request.Cookie, error, defer);
        else if (request.Command == NbdCommand.Read)
            writer.SendReadData(request.Cookie, request.Offset, request.Buffer!, request.DataOffset, (int)request.Length, session.Structured, defer);
        else if (request.Command == NbdCommand.BlockStatus)
            writer.SendBlockStatus(request.Cookie, NbdWire.BaseAllocationId, request.Extents.AsSpan(0, extents), defer);
        else
            writer.SendSimple(request.Cookie, NbdErrno.None, defer);
        timing?.Answered((RequestKind)request.Command, request.ReceivedAt);
        inFlight.Release(request);
        return stillReading;
    }

    /// <summary>ENOTSUP and EOVERFLOW have narrow meanings on the wire; anywhere else they would mislead the client.</summary>
    private static NbdErrno WireError(NbdRequest request, NbdErrno error) => error switch
    {
        NbdErrno.None => NbdErrno.EIO,
        NbdErrno.ENOTSUP when (request.Flags & CommandFlags.FastZero) == 0 => NbdErrno.EINVAL,
        NbdErrno.EOVERFLOW when (request.Flags & CommandFlags.DontFragment) == 0 => NbdErrno.EINVAL,
        _ => error,
    };

    /// <summary>Asks the export and leaves a well-formed answer in the request's extents; returns their count.</summary>
    private int QueryBlockStatus(NbdRequest request)
    {
        var extents = request.Extents;
        int max = (request.Flags & CommandFlags.ReqOne) != 0 ? 1 : extents.Length;
        int count = export.BlockStatus((long)request.Offset, request.Length, extents.AsSpan(0, max));

        // The export's answer is trusted for content, not for shape: never send zero-length, overlong or unmerged extents.
        count = Math.Clamp(count, 0, max);
        ulong covered = 0;
        int written = 0;
        for (int i = 0; i < count && covered < request.Length; i++)
        {
            uint length = (uint)Math.Min(extents[i].Length, request.Length - covered);
            if (length == 0)
                break;
            uint flags = extents[i].Flags & 3;
            if (written > 0 && extents[written - 1].Flags == flags && extents[written - 1].Length <= uint.MaxValue - length)
                extents[written - 1] = new BlockExtent(extents[written - 1].Length + length, flags);
            else
                extents[written++] = new BlockExtent(length, flags);
            covered += length;
        }
        if (written == 0)
        {
            extents[0] = new BlockExtent(request.Length, 0);   // "data" is always a truthful answer
            written = 1;
        }
        return written;
    }

    private void ReplyError(NbdCommand command, ulong cookie, NbdErrno error, bool defer)
    {
        // Once structured replies are on, a READ may only be answered with chunks.
        if (command == NbdCommand.Read && session.Structured)
            writer.SendErrorChunk(cookie, error, ErrorMessages.For(error), defer);
        else
            writer.SendSimple(cookie, error, defer);
    }

    private void HardClose()
    {
        try { socket.Shutdown(SocketShutdown.Both); } catch (Exception) { /* already closed */ }
    }
}

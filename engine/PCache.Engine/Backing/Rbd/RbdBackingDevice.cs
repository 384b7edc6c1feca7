using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace PCache.Engine.Backing.Rbd;

/// <summary>
/// A Ceph RBD image through librbd's asynchronous API. The image's exclusive lock is taken in
/// exclusive mode when it opens (librbd then refuses to hand it to anyone else), so two caches can
/// never write back to one image. Writes are queued without waiting (write-back sends a kset's
/// writes, then flushes): overlapping writes wait for the earlier ones so log order holds, and
/// <see cref="Flush"/> waits for every queued write before it asks librbd to flush. Each request
/// works in a native bounce buffer of its own: a request that outlives its timeout is abandoned to
/// its completion callback, which frees it, so no caller's memory is ever written late.
/// </summary>
public sealed unsafe class RbdBackingDevice : IBackingDevice
{
    private const int ChunkSize = 4 << 20;
    private const int MaxQueuedWrites = 32;
    private const int PoolLimit = 48;
    private static readonly string DefaultOpTimeout = "30";

    private readonly RbdSpec _spec;
    private readonly TimeSpan _timeout;
    private readonly ConcurrentBag<RbdRequest> _pool = [];
    private readonly List<RbdRequest> _queued = [];
    private readonly object _writeLock = new();
    private nint _cluster, _ioctx, _image;
    private int _disposed;

    private RbdBackingDevice(RbdSpec spec, TimeSpan timeout)
    {
        _spec = spec;
        _timeout = timeout;
    }

    public string Path => _spec.Text;

    public long Size { get; private set; }

    /// <summary>Who the image is: pool, name, librbd's image id (new for every image ever created) and the cluster's fsid.</summary>
    public string Identity { get; private set; } = "";

    public static RbdBackingDevice Open(string text)
    {
        RbdSpec spec;
        try
        {
            spec = RbdSpec.Parse(text);
        }
        catch (FormatException e)
        {
            throw new ArgumentException(e.Message, nameof(text), e);
        }
        Librbd.Require();
        string opTimeout = spec.Options.FirstOrDefault(o => o.Key is "rados_osd_op_timeout" or "rados osd op timeout").Value ?? DefaultOpTimeout;
        // The cluster times operations out itself; our own bound is a backstop above it.
        var timeout = TimeSpan.FromSeconds((double.TryParse(opTimeout, System.Globalization.CultureInfo.InvariantCulture, out double s) && s > 0 ? s : 30) + 15);
        var device = new RbdBackingDevice(spec, timeout);
        try
        {
            device.Connect();
            return device;
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    private void Connect()
    {
        nint cluster;
        Check(Call(Librbd.rados_create, &cluster, _spec.Id), "cannot create a cluster handle");
        _cluster = cluster;
        int rc;
        fixed (byte* conf = Z(_spec.Conf))
            rc = Librbd.rados_conf_read_file(_cluster, conf);
        if (rc < 0)
            throw Fail(_spec.Conf is null ? "no ceph.conf found (give one with :conf=PATH)" : $"cannot read {_spec.Conf}", rc);
        var options = new List<KeyValuePair<string, string>>
        {
            new("rados_osd_op_timeout", DefaultOpTimeout),
            new("rados_mon_op_timeout", DefaultOpTimeout),
            new("client_mount_timeout", DefaultOpTimeout),
        };
        options.AddRange(_spec.Options);
        foreach (var (key, value) in options)
        {
            fixed (byte* k = Z(key))
            fixed (byte* v = Z(value))
                rc = Librbd.rados_conf_set(_cluster, k, v);
            if (rc < 0) throw Fail($"Ceph option {key}={value} is not accepted", rc);
        }
        rc = Librbd.rados_connect(_cluster);
        if (rc < 0) throw Fail("cannot connect to the Ceph cluster", rc);
        nint ioctx;
        fixed (byte* pool = Z(_spec.Pool))
            rc = Librbd.rados_ioctx_create(_cluster, pool, &ioctx);
        if (rc < 0) throw Fail($"cannot open pool '{_spec.Pool}'", rc);
        _ioctx = ioctx;
        nint image;
        fixed (byte* name = Z(_spec.Image))
            rc = Librbd.rbd_open(_ioctx, name, &image, null);
        if (rc < 0) throw Fail($"cannot open image '{_spec.Pool}/{_spec.Image}'", rc);
        _image = image;
        rc = Librbd.rbd_lock_acquire(_image, Librbd.LockModeExclusive);
        if (rc == -22) throw Fail("the image has no exclusive-lock feature, so another client could write to it (enable it: rbd feature enable POOL/IMAGE exclusive-lock)", rc);
        if (rc < 0) throw Fail("cannot take the image's exclusive lock (is another cache or client using it?)", rc);
        ulong size;
        rc = Librbd.rbd_get_size(_image, &size);
        if (rc < 0) throw Fail("cannot read the image size", rc);
        Size = (long)size & ~511L;
        if (Size <= 0) throw new IOException($"{Path}: the image is empty");
        byte* id = stackalloc byte[64];
        rc = Librbd.rbd_get_id(_image, id, 64);
        if (rc < 0) throw Fail("cannot read the image id", rc);
        byte* fsid = stackalloc byte[64];
        rc = Librbd.rados_cluster_fsid(_cluster, fsid, 64);
        string fsidText = rc < 0 ? "?" : Marshal.PtrToStringUTF8((nint)fsid) ?? "?";
        Identity = $"rbd image {_spec.Pool}/{_spec.Image} id {Marshal.PtrToStringUTF8((nint)id)} in cluster {fsidText}, {Size} bytes";
    }

    private static int Call(delegate* unmanaged<nint*, byte*, int> create, nint* cluster, string? id)
    {
        fixed (byte* p = Z(id)) return create(cluster, p);
    }

    private static byte[]? Z(string? s) => s is null ? null : Encoding.UTF8.GetBytes(s + "\0");

    private IOException Fail(string what, long rc) => new($"{Path}: {what}: {Librbd.Describe(rc)}");

    private static void Check(int rc, string what)
    {
        if (rc < 0) throw new IOException($"{what}: {Librbd.Describe(rc)}");
    }

    // ---- I/O -------------------------------------------------------------------------------

    public void Read(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int n = Math.Min(destination.Length, ChunkSize);
            var r = Submit(Op.Read, offset, n, default);
            long result = Finish(r, "read", offset, n);
            new ReadOnlySpan<byte>(r.Buffer, n).CopyTo(destination);
            Return(r);
            if (result < 0) throw Fail($"read of {n} bytes at {offset} failed", result);
            destination = destination[n..];
            offset += n;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        lock (_writeLock)
        {
            while (!source.IsEmpty)
            {
                int n = Math.Min(source.Length, ChunkSize);
                // Log order: a write may not pass an earlier one to the same bytes.
                foreach (var q in _queued)
                {
                    if (q.Offset < offset + n && offset < q.Offset + q.Length)
                    {
                        WaitQueued();
                        break;
                    }
                }
                if (_queued.Count >= MaxQueuedWrites) WaitQueued();
                _queued.Add(Submit(Op.Write, offset, n, source[..n]));
                source = source[n..];
                offset += n;
            }
        }
    }

    public void Flush()
    {
        lock (_writeLock)
        {
            WaitQueued();
            var r = Submit(Op.Flush, 0, 0, default);
            long result = Finish(r, "flush", 0, 0);
            Return(r);
            if (result < 0) throw Fail("flush failed", result);
        }
    }

    public void Zero(long offset, long length, bool keepAllocated)
    {
        lock (_writeLock)
        {
            WaitQueued();
            while (length > 0)
            {
                int n = (int)Math.Min(length, 1L << 30);
                // librbd zeroes whole objects by removing them and the rest by writing zeroes;
                // either way the range reads as zeroes (a plain discard may skip partial objects).
                var r = Submit(Op.WriteZeroes, offset, n, default);
                long result = Finish(r, "write-zeroes", offset, n);
                Return(r);
                if (result < 0) throw Fail($"write-zeroes of {n} bytes at {offset} failed", result);
                offset += n;
                length -= n;
            }
        }
    }

    /// <summary>Wait for every queued write; the first failure is thrown once all have finished or been abandoned.</summary>
    private void WaitQueued()
    {
        IOException? first = null;
        foreach (var q in _queued)
        {
            try
            {
                long result = Finish(q, "write", q.Offset, q.Length);
                Return(q);
                if (result < 0) first ??= Fail($"write of {q.Length} bytes at {q.Offset} failed", result);
            }
            catch (IOException e)
            {
                first ??= e;
            }
        }
        _queued.Clear();
        if (first is not null) throw first;
    }

    private enum Op { Read, Write, Flush, WriteZeroes }

    private RbdRequest Submit(Op op, long offset, int length, ReadOnlySpan<byte> data)
    {
        if (Volatile.Read(ref _disposed) != 0) throw new ObjectDisposedException(Path);
        var r = Rent(op is Op.Read or Op.Write ? length : 0);
        r.Offset = offset;
        r.Length = length;
        r.State = 0;
        r.Done.Reset();
        if (op == Op.Write) data.CopyTo(new Span<byte>(r.Buffer, length));
        nint completion;
        int rc = Librbd.rbd_aio_create_completion(r.Handle, &OnComplete, &completion);
        if (rc < 0)
        {
            Return(r);
            throw Fail("cannot create an aio completion", rc);
        }
        rc = op switch
        {
            Op.Read => Librbd.rbd_aio_read(_image, (ulong)offset, (nuint)length, r.Buffer, completion),
            Op.Write => Librbd.rbd_aio_write(_image, (ulong)offset, (nuint)length, r.Buffer, completion),
            Op.Flush => Librbd.rbd_aio_flush(_image, completion),
            _ => Librbd.rbd_aio_write_zeroes(_image, (ulong)offset, (nuint)length, completion, 0, 0),
        };
        if (rc < 0)
        {
            Librbd.rbd_aio_release(completion);
            Return(r);
            throw Fail($"{op.ToString().ToLowerInvariant()} could not be queued", rc);
        }
        return r;
    }

    /// <summary>Wait for a request's completion, bounded: past the timeout it is abandoned (and freed by its callback).</summary>
    private long Finish(RbdRequest r, string what, long offset, int length)
    {
        if (!r.Done.Wait(_timeout) && Interlocked.CompareExchange(ref r.State, 2, 0) == 0)
            throw new IOException($"{Path}: {what} of {length} bytes at {offset}: the cluster did not answer within {_timeout.TotalSeconds:0} s");
        r.Done.Wait(); // completed just as the wait gave up: the result is there
        return r.Result;
    }

    [UnmanagedCallersOnly]
    private static void OnComplete(nint completion, nint arg)
    {
        var r = (RbdRequest)GCHandle.FromIntPtr(arg).Target!;
        r.Result = Librbd.rbd_aio_get_return_value(completion);
        Librbd.rbd_aio_release(completion);
        if (Interlocked.CompareExchange(ref r.State, 1, 0) == 0) r.Done.Set();
        else r.Free(); // its waiter gave up long ago; nobody else holds it
    }

    /// <summary>A pooled request whose buffer holds at least <paramref name="bytes"/> (grown in 64 KiB steps, kept for reuse).</summary>
    private RbdRequest Rent(int bytes)
    {
        if (!_pool.TryTake(out var r)) r = new RbdRequest();
        if (bytes > r.Capacity)
        {
            if (r.Buffer != null) NativeMemory.AlignedFree(r.Buffer);
            r.Capacity = (bytes + 65535) & ~65535;
            r.Buffer = (byte*)NativeMemory.AlignedAlloc((nuint)r.Capacity, 4096);
        }
        return r;
    }

    private void Return(RbdRequest r)
    {
        if (_pool.Count < PoolLimit && Volatile.Read(ref _disposed) == 0) _pool.Add(r);
        else r.Free();
    }

    private sealed class RbdRequest
    {
        public readonly nint Handle;
        public readonly ManualResetEventSlim Done = new(false);
        public byte* Buffer;
        public int Capacity;
        public long Offset;
        public int Length;
        public long Result;
        public int State; // 0 in flight, 1 completed, 2 abandoned by its waiter

        public RbdRequest() => Handle = GCHandle.ToIntPtr(GCHandle.Alloc(this));

        public void Free()
        {
            if (Buffer != null) NativeMemory.AlignedFree(Buffer);
            Buffer = null;
            Capacity = 0;
            GCHandle.FromIntPtr(Handle).Free();
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        lock (_writeLock)
        {
            try { WaitQueued(); } catch (IOException) { /* write-back redoes it from the cache */ }
        }
        if (_image != 0)
        {
            Librbd.rbd_lock_release(_image);
            Librbd.rbd_close(_image);
            _image = 0;
        }
        if (_ioctx != 0) Librbd.rados_ioctx_destroy(_ioctx);
        if (_cluster != 0) Librbd.rados_shutdown(_cluster);
        _ioctx = _cluster = 0;
        while (_pool.TryTake(out var r)) r.Free();
    }
}

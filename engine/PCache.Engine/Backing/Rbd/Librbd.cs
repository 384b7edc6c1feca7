using System.Runtime.InteropServices;

namespace PCache.Engine.Backing.Rbd;

/// <summary>
/// The librados/librbd C API, bound at run time: both libraries are loaded with
/// <see cref="NativeLibrary.TryLoad(string, out IntPtr)"/> on first use, so a host without them
/// gets a clear error when it asks for an rbd: backing and nothing else changes. Calls go through
/// unmanaged function pointers (no marshalling stubs, so NativeAOT needs nothing extra).
/// Signatures: ceph's include/rados/librados.h and include/rbd/librbd.h.
/// </summary>
internal static unsafe class Librbd
{
    public const string RadosLibrary = "librados.so.2";
    public const string RbdLibrary = "librbd.so.1";
    public const int LockModeExclusive = 0;

    private static readonly Lazy<string?> Loaded = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    public static delegate* unmanaged<nint*, byte*, int> rados_create;
    public static delegate* unmanaged<nint, byte*, int> rados_conf_read_file;
    public static delegate* unmanaged<nint, byte*, byte*, int> rados_conf_set;
    public static delegate* unmanaged<nint, int> rados_connect;
    public static delegate* unmanaged<nint, void> rados_shutdown;
    public static delegate* unmanaged<nint, byte*, nuint, int> rados_cluster_fsid;
    public static delegate* unmanaged<nint, byte*, nint*, int> rados_ioctx_create;
    public static delegate* unmanaged<nint, void> rados_ioctx_destroy;

    public static delegate* unmanaged<nint, byte*, nint*, byte*, int> rbd_open;
    public static delegate* unmanaged<nint, int> rbd_close;
    public static delegate* unmanaged<nint, ulong*, int> rbd_get_size;
    public static delegate* unmanaged<nint, byte*, nuint, int> rbd_get_id;
    public static delegate* unmanaged<nint, int, int> rbd_lock_acquire;
    public static delegate* unmanaged<nint, int> rbd_lock_release;
    public static delegate* unmanaged<nint, delegate* unmanaged<nint, nint, void>, nint*, int> rbd_aio_create_completion;
    public static delegate* unmanaged<nint, nint> rbd_aio_get_return_value;
    public static delegate* unmanaged<nint, void> rbd_aio_release;
    public static delegate* unmanaged<nint, ulong, nuint, byte*, nint, int> rbd_aio_write;
    public static delegate* unmanaged<nint, ulong, nuint, byte*, nint, int> rbd_aio_read;
    public static delegate* unmanaged<nint, nint, int> rbd_aio_flush;
    public static delegate* unmanaged<nint, ulong, nuint, nint, int, int, int> rbd_aio_write_zeroes;

    /// <summary>Load once; throws <see cref="IOException"/> naming what is missing.</summary>
    public static void Require()
    {
        if (Loaded.Value is { } error) throw new IOException(error);
    }

    private static string? Load()
    {
        if (!NativeLibrary.TryLoad(RadosLibrary, out var rados))
            return $"Ceph RBD backings need {RadosLibrary} and {RbdLibrary}, which are not installed (on Debian: apt-get install librbd1)";
        if (!NativeLibrary.TryLoad(RbdLibrary, out var rbd))
            return $"Ceph RBD backings need {RbdLibrary}, which is not installed (on Debian: apt-get install librbd1)";
        try
        {
            rados_create = (delegate* unmanaged<nint*, byte*, int>)NativeLibrary.GetExport(rados, "rados_create");
            rados_conf_read_file = (delegate* unmanaged<nint, byte*, int>)NativeLibrary.GetExport(rados, "rados_conf_read_file");
            rados_conf_set = (delegate* unmanaged<nint, byte*, byte*, int>)NativeLibrary.GetExport(rados, "rados_conf_set");
            rados_connect = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(rados, "rados_connect");
            rados_shutdown = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(rados, "rados_shutdown");
            rados_cluster_fsid = (delegate* unmanaged<nint, byte*, nuint, int>)NativeLibrary.GetExport(rados, "rados_cluster_fsid");
            rados_ioctx_create = (delegate* unmanaged<nint, byte*, nint*, int>)NativeLibrary.GetExport(rados, "rados_ioctx_create");
            rados_ioctx_destroy = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(rados, "rados_ioctx_destroy");
            rbd_open = (delegate* unmanaged<nint, byte*, nint*, byte*, int>)NativeLibrary.GetExport(rbd, "rbd_open");
            rbd_close = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(rbd, "rbd_close");
            rbd_get_size = (delegate* unmanaged<nint, ulong*, int>)NativeLibrary.GetExport(rbd, "rbd_get_size");
            rbd_get_id = (delegate* unmanaged<nint, byte*, nuint, int>)NativeLibrary.GetExport(rbd, "rbd_get_id");
            rbd_lock_acquire = (delegate* unmanaged<nint, int, int>)NativeLibrary.GetExport(rbd, "rbd_lock_acquire");
            rbd_lock_release = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(rbd, "rbd_lock_release");
            rbd_aio_create_completion = (delegate* unmanaged<nint, delegate* unmanaged<nint, nint, void>, nint*, int>)NativeLibrary.GetExport(rbd, "rbd_aio_create_completion");
            rbd_aio_get_return_value = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(rbd, "rbd_aio_get_return_value");
            rbd_aio_release = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(rbd, "rbd_aio_release");
            rbd_aio_write = (delegate* unmanaged<nint, ulong, nuint, byte*, nint, int>)NativeLibrary.GetExport(rbd, "rbd_aio_write");
            rbd_aio_read = (delegate* unmanaged<nint, ulong, nuint, byte*, nint, int>)NativeLibrary.GetExport(rbd, "rbd_aio_read");
            rbd_aio_flush = (delegate* unmanaged<nint, nint, int>)NativeLibrary.GetExport(rbd, "rbd_aio_flush");
            rbd_aio_write_zeroes = (delegate* unmanaged<nint, ulong, nuint, nint, int, int, int>)NativeLibrary.GetExport(rbd, "rbd_aio_write_zeroes");
        }
        catch (EntryPointNotFoundException e)
        {
            return $"the installed {RbdLibrary} is too old for PCache (Ceph 15 or later is needed): {e.Message}";
        }
        return null;
    }

    /// <summary>A negative errno from librados/librbd, in words.</summary>
    public static string Describe(long result)
    {
        int errno = (int)-result;
        string name = errno switch
        {
            1 => "EPERM", 2 => "ENOENT (no such pool or image)", 5 => "EIO", 13 => "EACCES", 16 => "EBUSY",
            22 => "EINVAL", 28 => "ENOSPC", 30 => "EROFS (the image is locked by another client)", 95 => "EOPNOTSUPP",
            107 => "ENOTCONN", 108 => "ESHUTDOWN (this client was blocklisted)", 110 => "ETIMEDOUT (the cluster did not answer in time)",
            _ => "",
        };
        string text = Marshal.GetPInvokeErrorMessage(errno);
        return name.Length > 0 ? $"{name}: {text}" : $"error {errno}: {text}";
    }
}

using PCache.Client;
using PCache.Daemon.Control;
using PCache.Engine.Backing;
using PCache.Engine.Backing.Nbd;
using PCache.Engine.Backing.Rbd;
using PCache.Engine.Platform;

namespace PCache.Daemon.Glue;

/// <summary>
/// Turns what a user calls a backing — a path, an NBD URI or an RBD image spec — into an open
/// device and the identity recorded for it. Local devices are known by inode or hardware id
/// (<see cref="BackingIdentity.Of"/>); remote ones by what the remote end says they are.
/// </summary>
internal static class BackingOpener
{
    /// <summary>Absolute path or URI as given; a malformed URI is the caller's bad input.</summary>
    public static string Normalize(string path)
    {
        string normalized = BackingPath.Normalize(path);
        if (NbdUri.Looks(normalized))
        {
            try { NbdUri.Parse(normalized); }
            catch (FormatException e) { throw ControlException.Invalid(e.Message, path); }
        }
        else if (RbdSpec.Looks(normalized))
        {
            try { RbdSpec.Parse(normalized); }
            catch (FormatException e) { throw ControlException.Invalid(e.Message, path); }
        }
        return normalized;
    }

    public static bool IsRemote(string path) => BackingPath.IsRemote(path);

    /// <summary>Open for backing-start: failures are control errors with the right code.</summary>
    public static IBackingDevice OpenForStart(string path)
    {
        try
        {
            return Open(path);
        }
        catch (ArgumentException e)
        {
            throw ControlException.Invalid(e.Message, path);
        }
        catch (IOException e)
        {
            bool missing = !IsRemote(path) && FileStat.Of(path).Kind == FileKind.Missing;
            throw new ControlException(missing ? ErrorCodes.NotFound : ErrorCodes.IoError, e.Message, path);
        }
    }

    /// <summary>Open any kind of backing; unreachable or bad devices throw <see cref="IOException"/>.</summary>
    public static IBackingDevice Open(string path)
    {
        if (NbdUri.Looks(path)) return NbdBackingDevice.Open(path);
        if (RbdSpec.Looks(path)) return RbdBackingDevice.Open(path);
        return FileBackingDevice.Open(path);
    }

    public static BackingIdentity IdentityOf(string path, IBackingDevice device) => device switch
    {
        NbdBackingDevice nbd => BackingIdentity.Remote(nbd.Identity),
        RbdBackingDevice rbd => BackingIdentity.Remote(rbd.Identity),
        _ => BackingIdentity.Of(path, device.Size),
    };
}

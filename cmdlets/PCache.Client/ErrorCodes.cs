namespace PCache.Client;

/// <summary>
/// The stable error codes of the control protocol. Scripts match on these strings, never on
/// messages, so a code is never renamed or reused for another meaning.
/// </summary>
public static class ErrorCodes
{
    /// <summary>The request line is not a JSON object of the expected shape, or is too long.</summary>
    public const string InvalidRequest = "invalid_request";

    /// <summary>The verb is not known to this daemon (an older daemon, or a typo).</summary>
    public const string UnknownVerb = "unknown_verb";

    /// <summary>An argument is missing, of the wrong type or out of range.</summary>
    public const string InvalidArgument = "invalid_argument";

    /// <summary>No cache or backing with that id or path.</summary>
    public const string NotFound = "not_found";

    /// <summary>The request contradicts the current state (already started, in use, holds data).</summary>
    public const string Conflict = "conflict";

    /// <summary>backing-stop without --force while NBD clients are connected to the backing's export.</summary>
    public const string BackingInUse = "backing_in_use";

    /// <summary>A re-attached backing is not the device the cache recorded; its dirty data stays cached.</summary>
    public const string IdentityMismatch = "identity_mismatch";

    /// <summary>Not enough free cache segments (the message says how much is free).</summary>
    public const string NoSpace = "no_space";

    /// <summary>The caller is not root, the daemon's user or a member of its configured group.</summary>
    public const string PermissionDenied = "permission_denied";

    /// <summary>Another operation holds the target, or the daemon is at its connection limit.</summary>
    public const string Busy = "busy";

    /// <summary>A device could not be opened, read or written.</summary>
    public const string IoError = "io_error";

    /// <summary>The cache device holds structures that cannot be trusted; the message names them.</summary>
    public const string CorruptMedia = "corrupt_media";

    /// <summary>The operation was cancelled (the client went away or pressed Ctrl+C); nothing changed.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>The daemon is shutting down.</summary>
    public const string ShuttingDown = "shutting_down";

    /// <summary>The request's protocol version is not one the daemon speaks.</summary>
    public const string UnsupportedVersion = "unsupported_version";

    /// <summary>Client side: the daemon cannot be reached (not running, stale socket, no access).</summary>
    public const string DaemonUnavailable = "daemon_unavailable";

    /// <summary>Client side: the daemon did not answer in time.</summary>
    public const string Timeout = "timeout";

    /// <summary>Client side: the daemon's answer was not valid protocol.</summary>
    public const string ProtocolError = "protocol_error";

    /// <summary>A bug: the daemon caught an unexpected exception (it keeps running).</summary>
    public const string InternalError = "internal_error";
}

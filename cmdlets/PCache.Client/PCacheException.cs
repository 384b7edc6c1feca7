namespace PCache.Client;

/// <summary>
/// A failed control request: the daemon's error (code, message, target) or a client-side failure
/// to reach it (code <see cref="ErrorCodes.DaemonUnavailable"/>, <see cref="ErrorCodes.PermissionDenied"/>,
/// <see cref="ErrorCodes.Timeout"/>, <see cref="ErrorCodes.ProtocolError"/>).
/// </summary>
public sealed class PCacheException : Exception
{
    public PCacheException(string code, string message, string? target = null, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
        Target = target;
    }

    /// <summary>One of <see cref="ErrorCodes"/>.</summary>
    public string Code { get; }

    /// <summary>What the error is about: a path, "cache 0", "backing 3", the socket path...</summary>
    public string? Target { get; }

    /// <summary>What to do about it, when there is an obvious next step.</summary>
    public string? RecommendedAction { get; init; }
}

namespace PCache.Client;

/// <summary>
/// Which control socket a client talks to and why: an explicit path (--socket / -SocketPath),
/// else $PCACHE_SOCKET, else /run/pcache/pcache.sock. The source goes into error messages so a
/// user can tell which daemon was asked.
/// </summary>
public sealed record SocketLocation(string Path, string Source)
{
    public const string FromParameter = "parameter";
    public const string FromEnvironment = ControlProtocol.SocketEnvironmentVariable;
    public const string FromDefault = "default";

    public static SocketLocation Resolve(string? explicitPath = null)
    {
        if (!string.IsNullOrWhiteSpace(explicitPath))
            return new SocketLocation(System.IO.Path.GetFullPath(explicitPath), FromParameter);
        string? env = Environment.GetEnvironmentVariable(ControlProtocol.SocketEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(env))
            return new SocketLocation(System.IO.Path.GetFullPath(env), FromEnvironment);
        return new SocketLocation(ControlProtocol.DefaultSocketPath, FromDefault);
    }

    /// <summary>"/run/pcache/pcache.sock (from PCACHE_SOCKET)" — for messages.</summary>
    public string Describe() => Source switch
    {
        FromEnvironment => $"{Path} (from {ControlProtocol.SocketEnvironmentVariable})",
        FromDefault => $"{Path} (the default)",
        _ => Path,
    };
}

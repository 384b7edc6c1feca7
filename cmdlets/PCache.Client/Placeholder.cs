namespace PCache.Client;

/// <summary>Control-protocol client; filled in with the daemon issue.</summary>
public static class ClientInfo
{
    public const int ProtocolVersion = 1;
}

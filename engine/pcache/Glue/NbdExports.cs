using System.Net;
using System.Net.Sockets;
using PCache.Nbd;

namespace PCache.Daemon.Glue;

/// <summary>The catalog of exports pcacheN the NBD server offers, and the URIs clients use to reach them.</summary>
internal sealed class NbdExports(ExportCatalog catalog, NbdServer server, string unixSocket, TimeSpan disconnectLimit)
{
    /// <summary>How long withdrawing an export (and the engine's stop after it) waits for requests in flight.</summary>
    public TimeSpan DisconnectLimit { get; } = disconnectLimit;

    public ExportCatalog Catalog { get; } = catalog;

    public NbdServer Server { get; } = server;

    public string UnixSocket { get; } = unixSocket;

    public IPEndPoint? TcpEndPoint => Server.TcpEndPoint;

    public void Publish(CacheExport export)
    {
        Catalog.Remove(export.Name);
        Catalog.Add(export);
    }

    /// <summary>Take an export off the list (new clients cannot open it) and close its connections gracefully.</summary>
    public async Task WithdrawAsync(string name)
    {
        Catalog.Remove(name);
        using var limit = new CancellationTokenSource(DisconnectLimit);
        try
        {
            await Server.DisconnectExportAsync(name, limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Log.Warning($"{name}: NBD clients did not disconnect within {DisconnectLimit.TotalSeconds:0} s; their connections were cut");
        }
    }

    public string UnixUri(string name) => $"nbd+unix:///{name}?socket={UnixSocket}";

    public string? TcpUri(string name) => TcpEndPoint is { } ep
        ? ep.AddressFamily == AddressFamily.InterNetworkV6 ? $"nbd://[{ep.Address}]:{ep.Port}/{name}" : $"nbd://{ep.Address}:{ep.Port}/{name}"
        : null;
}

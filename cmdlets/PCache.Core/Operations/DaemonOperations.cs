using PCache.Client;

namespace PCache.Core;

/// <summary>Get-PCacheDaemon and Test-PCacheDaemon.</summary>
public static class DaemonOperations
{
    public static void Get(PCacheClient client, ICommandSink sink)
    {
        sink.WriteVerbose($"asking the daemon at {client.Socket.Describe()}");
        if (ClientCall.TryRun(client, sink, client.Socket.Path, client.PingAsync, out var status))
            sink.WriteObject(DaemonInfo.From(status));
    }

    /// <summary>True when a daemon answers; never an error, so scripts can branch on it.</summary>
    public static void Test(PCacheClient client, ICommandSink sink)
    {
        try
        {
            client.PingAsync(sink.Stopping).GetAwaiter().GetResult();
            sink.WriteObject(true);
        }
        catch (PCacheException e)
        {
            sink.WriteVerbose(ErrorTranslator.Translate(e, client.Socket, null).Message);
            sink.WriteObject(false);
        }
    }
}

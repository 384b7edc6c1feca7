using System.Management.Automation;
using PCache.Client;
using PCache.Core;

namespace PCache.Commands;

/// <summary>
/// What every PCache cmdlet shares: -SocketPath, one client per input record (a piped object may
/// name its own daemon), Ctrl+C as a cancellation token, and the translation of the core's
/// errors into ErrorRecords. Behaviour lives in PCache.Core; this is plumbing only.
/// </summary>
public abstract class PCacheCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>The daemon's control socket; else $env:PCACHE_SOCKET, else /run/pcache/pcache.sock.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Socket")]
    [ValidateNotNullOrEmpty]
    public string? SocketPath { get; set; }

    /// <summary>Run a core operation with this cmdlet as its sink.</summary>
    protected void Run(Action<PCacheClient, ICommandSink> operation)
    {
        var client = Connect();
        try
        {
            operation(client, new CmdletSink(this, _stopping.Token));
        }
        catch (PCacheCommandException e)
        {
            ThrowTerminatingError(CmdletSink.ToRecord(e.Error));
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
    }

    /// <summary>A relative -SocketPath is relative to PowerShell's location, not the process's.</summary>
    protected PCacheClient Connect()
    {
        var location = string.IsNullOrEmpty(SocketPath)
            ? SocketLocation.Resolve()
            : new SocketLocation(GetUnresolvedProviderPathFromPSPath(SocketPath), SocketLocation.FromParameter);
        WriteDebug($"control socket: {location.Describe()}");
        return new PCacheClient(location);
    }

    /// <summary>A path argument as the daemon needs it: absolute, resolved against PowerShell's location.</summary>
    protected string ResolvePath(string path) => GetUnresolvedProviderPathFromPSPath(path);

    protected override void StopProcessing()
    {
        try
        {
            _stopping.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The command already finished.
        }
    }

    public void Dispose()
    {
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }
}

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
    protected void Run(Action<PCacheClient, ICommandSink> operation) => RunOn(null, operation);

    /// <summary>
    /// Run against the daemon that reported a piped object (its SocketPath), unless -SocketPath
    /// was given; null means the usual resolution.
    /// </summary>
    protected void RunOn(string? objectSocket, Action<PCacheClient, ICommandSink> operation)
    {
        var client = Connect(objectSocket);
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
    protected PCacheClient Connect(string? objectSocket = null)
    {
        var location = !string.IsNullOrEmpty(SocketPath)
            ? new SocketLocation(GetUnresolvedProviderPathFromPSPath(SocketPath), SocketLocation.FromParameter)
            : !string.IsNullOrEmpty(objectSocket)
                ? new SocketLocation(objectSocket, SocketLocation.FromParameter)
                : SocketLocation.Resolve();
        WriteDebug($"control socket: {location.Describe()}");
        return new PCacheClient(location);
    }

    /// <summary>A path argument as the daemon needs it: absolute, resolved against PowerShell's location.</summary>
    protected string ResolvePath(string path) => GetUnresolvedProviderPathFromPSPath(path);

    /// <summary>
    /// -Path/-LiteralPath filters as absolute patterns for the core's matcher: relative paths and ~
    /// resolved through the provider, literal paths escaped so [ ] * ? match themselves.
    /// </summary>
    protected string[]? ResolvePathFilters(string[]? wildcardPaths, string[]? literalPaths)
    {
        if (literalPaths is not null)
            return literalPaths.Select(p => WildcardPattern.Escape(GetUnresolvedProviderPathFromPSPath(p))).ToArray();
        return wildcardPaths?.Select(ResolvePattern).ToArray();
    }

    /// <summary>
    /// A wildcard pattern made absolute without expanding it: the provider resolves the part before
    /// the first wildcard (it may be ~ or ..), the rest is kept as typed.
    /// </summary>
    private string ResolvePattern(string pattern)
    {
        if (pattern.StartsWith('/')) return pattern;
        int wild = pattern.IndexOfAny(['*', '?', '[']);
        if (wild < 0) return GetUnresolvedProviderPathFromPSPath(pattern);
        int cut = pattern.LastIndexOf('/', wild);
        string dir = cut < 0 ? "." : pattern[..cut];
        string rest = cut < 0 ? pattern : pattern[(cut + 1)..];
        if (dir.Length == 0) dir = "/";
        return System.IO.Path.Combine(GetUnresolvedProviderPathFromPSPath(dir), rest);
    }

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

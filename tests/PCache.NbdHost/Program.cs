using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using PCache.Nbd;
using PCache.NbdHost;

// A stand-in daemon for NBD tests and benchmarks: serves exports until SIGTERM/SIGINT.
//   PCache.NbdHost --socket PATH [--tcp [ADDR:]PORT] --export NAME=FILE[:SIZE] ...
//                  [--pmem FILE:SIZE [--cache-size SIZE] [--segment-mb N]] [--active-workers N] [--verbose]
// With --pmem every export is a backing cached by the engine in that pmem file (formatted when
// blank, replayed otherwise, like the daemon); without it, exports are plain files.
// Prints "READY socket=PATH tcp=ENDPOINT" once listening; exits 0 after a graceful stop.

string? socketPath = null;
IPEndPoint? tcp = null;
bool verbose = false;
int activeWorkers = new NbdServerOptions().ActiveWorkersPerConnection;
var exports = new List<FileBlockExport>();
string? pmemArg = null;
long cacheSize = 64L << 20;
int segmentShift = 24;
try
{
    for (int i = 0; i < args.Length; i++)
    {
        string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
        switch (args[i])
        {
            case "--socket":
                socketPath = Next();
                break;
            case "--tcp":
                tcp = ParseEndPoint(Next());
                break;
            case "--export":
                exports.Add(ParseExport(Next()));
                break;
            case "--pmem":
                pmemArg = Next();
                break;
            case "--cache-size":
                cacheSize = TryParseSize(Next(), out long cs) ? cs : throw new ArgumentException("bad --cache-size");
                break;
            case "--segment-mb":
                segmentShift = 20 + (int)Math.Log2(int.Parse(Next(), CultureInfo.InvariantCulture));
                break;
            case "--active-workers":
                activeWorkers = int.Parse(Next(), CultureInfo.InvariantCulture);
                break;
            case "--verbose":
                verbose = true;
                break;
            default:
                throw new ArgumentException($"unknown argument {args[i]}");
        }
    }
    if (socketPath is null && tcp is null)
        throw new ArgumentException("give --socket PATH and/or --tcp [ADDR:]PORT");
}
catch (Exception e) when (e is ArgumentException or FormatException or IOException)
{
    Console.Error.WriteLine($"PCache.NbdHost: {e.Message}");
    Console.Error.WriteLine("usage: PCache.NbdHost --socket PATH [--tcp [ADDR:]PORT] --export NAME=FILE[:SIZE] ... [--active-workers N] [--verbose]");
    return 2;
}

using var engine = pmemArg is null ? null : StartEngine(pmemArg, cacheSize, segmentShift, exports);
IEnumerable<IBlockExport> served = engine is null ? exports : engine.Exports;
var server = new NbdServer(new ExportCatalog(served), new NbdServerOptions
{
    UnixSocketPath = socketPath,
    TcpEndPoint = tcp,
    ActiveWorkersPerConnection = activeWorkers,
    Log = verbose ? line => Console.Error.WriteLine(line) : null,
});
server.Start();

var stop = new TaskCompletionSource();
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
Console.WriteLine($"READY socket={socketPath ?? "-"} tcp={server.TcpEndPoint?.ToString() ?? "-"}");
Console.Out.Flush();

await stop.Task;
await server.StopAsync();
engine?.Stop(); // after the exports: every kset reaches pmem
foreach (var export in exports)
    export.Dispose();
Console.WriteLine("STOPPED");
return 0;

static IPEndPoint ParseEndPoint(string text) =>
    int.TryParse(text, out int port) ? NbdServerOptions.LoopbackTcp(port) : IPEndPoint.Parse(text);

static FileBlockExport ParseExport(string text)
{
    int eq = text.IndexOf('=');
    if (eq <= 0)
        throw new ArgumentException($"--export wants NAME=FILE[:SIZE], got '{text}'");
    string name = text[..eq], path = text[(eq + 1)..];
    long? size = null;
    int colon = path.LastIndexOf(':');
    if (colon > 0 && TryParseSize(path[(colon + 1)..], out long parsed))
    {
        size = parsed;
        path = path[..colon];
    }
    return new FileBlockExport(name, path, size);
}

static EngineHost StartEngine(string pmemArg, long cacheSize, int segmentShift, List<FileBlockExport> files)
{
    int colon = pmemArg.LastIndexOf(':');
    long size = 0;
    if (colon > 0 && !TryParseSize(pmemArg[(colon + 1)..], out size))
        throw new ArgumentException($"--pmem wants FILE[:SIZE], got '{pmemArg}'");
    return EngineHost.Start(colon > 0 ? pmemArg[..colon] : pmemArg, size, cacheSize, segmentShift, files);
}

static bool TryParseSize(string text, out long size)
{
    long unit = 1;
    if (text.Length > 0 && "KMGT".IndexOf(char.ToUpperInvariant(text[^1])) is int k and >= 0)
    {
        unit = 1L << (10 * (k + 1));
        text = text[..^1];
    }
    bool ok = long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out size);
    size *= unit;
    return ok;
}

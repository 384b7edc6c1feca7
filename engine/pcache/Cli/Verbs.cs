using PCache.Client;

namespace PCache.Daemon.Cli;

/// <summary>Every verb of `pcache` with its options: the one table both parsing and help are made from.</summary>
internal static class Verbs
{
    private static readonly OptionSpec Socket = new("socket", OptionKind.Text,
        $"control socket (default: ${ControlProtocol.SocketEnvironmentVariable}, else {ControlProtocol.DefaultSocketPath})", Value: "PATH");

    private static readonly OptionSpec Timeout = new("timeout", OptionKind.Integer,
        $"give up when the daemon sends nothing for this long (default: ${ControlProtocol.TimeoutEnvironmentVariable}, else 60; cache-start and backing-start: 1800)",
        Min: 1, Max: 86400, Value: "SECONDS");

    private static readonly OptionSpec Mode = new("mode", OptionKind.Text,
        "cache mode: writeback (default), writethrough, writearound, writeonly or passthrough", 'm', Value: "MODE");

    private static readonly OptionSpec SequentialCutoff = new("sequential-cutoff", OptionKind.Size,
        "a sequential stream longer than this bypasses the cache (0 = off, the default; bcache uses 4M)", Min: 0);

    private static readonly OptionSpec ReadAdmission = new("read-admission", OptionKind.Integer,
        "a 64 KiB block enters the cache on a read miss only after missing this many times before (0 = off, the default)", Min: 0, Max: 15);

    // Write-back pacing (docs/daemon.md); the defaults apply when backing-start leaves them out.
    private static readonly OptionSpec WritebackWatermark = new("writeback-watermark", OptionKind.Integer,
        "write-back waits while the export is busy until dirty data reaches this % of the backing's cache, then runs at full speed (0..100, default 50; 0 = always)",
        Min: 0, Max: 100, Value: "PERCENT");
    private static readonly OptionSpec WritebackMaxAge = new("writeback-max-age", OptionKind.Integer,
        "dirty data older than this is written back even while the export is busy (0..65535, default 30; 0 = no bound)",
        Min: 0, Max: 65535, Value: "SECONDS");
    private static readonly OptionSpec WritebackRate = new("writeback-rate", OptionKind.Size,
        "most bytes/s write-back moves below the watermark (whole KiB/s, e.g. 100M; default 0 = unlimited)", Min: 0, Value: "BYTES");

    /// <summary>The backing settings that backing-start takes and backing-set changes, in help order.</summary>
    private static readonly OptionSpec[] BackingSettings =
        [WritebackWatermark, WritebackMaxAge, WritebackRate, Mode, SequentialCutoff, ReadAdmission];

    public static readonly VerbSpec[] All =
    [
        new("daemon", "run the engine in the foreground: NBD exports and the control socket",
        [
            Socket,
            new("nbd-socket", OptionKind.Text, $"NBD Unix socket (default: {ControlProtocol.DefaultNbdSocketName} next to the control socket)", Value: "PATH"),
            new("nbd-listen", OptionKind.Text, "also serve NBD over TCP, e.g. 127.0.0.1:10809", Value: "HOST:PORT"),
            new("config", OptionKind.Text, "config file: daemon settings and caches to start (e.g. /etc/pcache/pcache.conf)", Value: "FILE"),
            new("group", OptionKind.Text, "members of this group may use the control socket", Value: "NAME"),
            new("socket-mode", OptionKind.Text, "octal mode of both sockets (default 0660)", Value: "MODE"),
            new("stop-timeout", OptionKind.Integer, "on a stop, wait this long for NBD clients and requests in flight before failing them (default 30)", Min: 1, Max: 3600, Value: "SECONDS"),
            new("stuck-after", OptionKind.Integer, "a request waiting longer is logged and counted as stuck in stat (default 10)", Min: 1, Max: 3600, Value: "SECONDS"),
            new("metrics-listen", OptionKind.Text, "serve OpenMetrics/Prometheus text at http://ADDRESS/metrics: HOST:PORT or unix:/PATH (default: off)", Value: "ADDRESS"),
        ], TalksToDaemon: false),
        new("demo", "start a private daemon on a 1 GiB emulated pmem file and a sparse backing file, and show live statistics",
        [
            new("size", OptionKind.Size, "size of the emulated pmem file (default 1G)", Min: 16 << 20),
            new("backing-size", OptionKind.Size, "size of the sparse backing file (default 4G)", Min: 1 << 20),
            new("cache-size", OptionKind.Size, "cache given to the backing (default: half the pmem file)", Min: 1 << 20),
        ], TalksToDaemon: false),
        new("cache-start", "start a cache device (replaying the backings it records), or create and format one",
        [
            new("path", OptionKind.Text, "pmem device (/dev/pmemN, /dev/daxN.M) or a file standing in for one", 'p', Required: true, Value: "PATH"),
            new("size", OptionKind.Size, "create a regular file of this size when PATH does not exist", 's', Min: 0),
            new("format", OptionKind.Flag, "write a new, empty cache device (refused on a device holding data unless --force)", 'f'),
            new("force", OptionKind.Flag, "with --format: format even a device holding data or a filesystem", 'F'),
            new("data-crc", OptionKind.Flag, "backings created on this cache keep a CRC of their cached data"),
            new("segment-size", OptionKind.Size, "segment size when formatting: 1M..1G, a power of two (default scales with the device, at most 16M)", Min: 0),
            Socket,
            Timeout,
        ]),
        new("cache-stop", "stop a cache device: its backings stop exporting; dirty data stays in the cache",
        [
            new("cache-id", OptionKind.Integer, "cache to stop", 'c', Required: true, Min: 0, Max: int.MaxValue),
            Socket,
            Timeout,
        ]),
        new("cache-list", "list started cache devices (JSON)", [Socket, Timeout]),
        new("backing-start", "cache a backing device and export it over NBD as pcacheN",
        [
            new("path", OptionKind.Text, "backing block device or file", 'p', Required: true, Value: "PATH"),
            new("cache-size", OptionKind.Size, "share of the cache device for this backing (e.g. 50G)", 's', Required: true, Min: 1),
            new("cache-id", OptionKind.Integer, "cache device to use (default 0)", 'c', Min: 0, Max: int.MaxValue),
            new("gc-percent", OptionKind.Integer, "start GC when this % of the backing's segments is used (0..90, default 70)", 'g', Min: 0, Max: 90),
            new("queues", OptionKind.Integer, "recorded for pcache-utils compatibility (NBD connections do not depend on it; 1..1024)", 'q', Min: 1, Max: 1024),
            new("persist-on-write", OptionKind.Flag, "make every write durable before it is acknowledged"),
            .. BackingSettings,
            Socket,
            Timeout,
        ]),
        new("backing-stop", "write back all dirty data (progress on stderr; Ctrl+C cancels), then stop the backing",
        [
            new("backing-id", OptionKind.Integer, "backing to stop", 'b', Required: true, Min: 0, Max: int.MaxValue),
            new("force", OptionKind.Flag, "stop even while NBD clients are connected (they are disconnected after write-back), or forget a backing that cannot be attached, discarding its dirty data", 'F'),
            Socket,
            Timeout,
        ]),
        new("backing-list", "list backings (JSON)",
        [
            new("cache-id", OptionKind.Integer, "only this cache's backings", 'c', Min: 0, Max: int.MaxValue),
            Socket,
            Timeout,
        ]),
        new("backing-set", "change a running backing's settings",
        [
            new("backing-id", OptionKind.Integer, "backing to change", 'b', Required: true, Min: 0, Max: int.MaxValue),
            new("gc-percent", OptionKind.Integer, "start GC when this % of the backing's segments is used (0..90)", 'g', Min: 0, Max: 90),
            .. BackingSettings,
            new("wait", OptionKind.Flag, "after a switch away from writeback or writeonly, wait until the dirty data is written back (progress on stderr)", 'w'),
            Socket,
            Timeout,
        ]),
        new("stat", "the engine's counters and status, for one backing or all (JSON)",
        [
            new("backing-id", OptionKind.Integer, "only this backing", 'b', Min: 0, Max: int.MaxValue),
            new("reset", OptionKind.Flag, "zero the counters after reading them"),
            Socket,
            Timeout,
        ]),
        new("version", "print the client's and the daemon's versions (JSON)", [Socket, Timeout]),
    ];

    public static VerbSpec? Find(string name) => All.FirstOrDefault(v => v.Name == name);

    public static string Overview() =>
        $"""
        pcache {DaemonHost.Version}: a persistent-memory cache in front of block devices, exported over NBD

        usage: pcache VERB [options]          (pcache VERB --help for a verb's options)

        {string.Join("\n", All.Select(v => $"  {v.Name,-14} {v.Summary}"))}
          dsc            the DSC v3 resources: pcache dsc cache|backing get|set|test|export (JSON on stdin)

        Client verbs print JSON on stdout and errors on stderr; exit codes: 0 success, 1 error,
        2 bad command line, 130 cancelled (Ctrl+C, SIGTERM). They give up with the error "timeout"
        when the daemon sends nothing for --timeout seconds. They talk to the daemon at --socket, else
        ${ControlProtocol.SocketEnvironmentVariable}, else {ControlProtocol.DefaultSocketPath}. Sizes take K, M, G, T or KiB, MiB, GiB, TiB.

        Try it: pcache demo
        """;

    public static string Help(VerbSpec verb)
    {
        var lines = new List<string> { $"usage: {verb.Synopsis}", "", verb.Summary, "" };
        foreach (var o in verb.Options)
        {
            string names = (o.Short is { } s ? $"-{s}, " : "    ") + o.Usage;
            lines.Add($"  {names,-32} {o.Help}{(o.Required ? " (required)" : "")}");
        }
        return string.Join("\n", lines);
    }
}

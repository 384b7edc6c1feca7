using System.Runtime.InteropServices;
using System.Text.Json;
using PCache.Client;

namespace PCache.Daemon.Cli;

/// <summary>
/// The client verbs: build the request from the parsed options, send it, print the daemon's
/// result as indented JSON on stdout (as pcache-utils does), and say what went wrong on stderr.
/// </summary>
internal static class ClientCommands
{
    public static async Task<int> RunAsync(ParsedArgs args)
    {
        string verb = args.Verb.Name;
        using var interrupt = new CancellationTokenSource();
        // The first Ctrl+C or SIGTERM cancels (a drain is then stopped and confirmed); a second
        // one gets the default action and ends the process at once.
        Action<PosixSignalContext> stop = c =>
        {
            c.Cancel = !interrupt.IsCancellationRequested;
            interrupt.Cancel();
        };
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, stop);
        try
        {
            var client = new PCacheClient(args.Text("socket"));
            TimeSpan? chosen = args.Int("timeout") is { } seconds ? TimeSpan.FromSeconds(seconds) : PCacheClient.TimeoutFromEnvironment();
            if (chosen is { } t) client.Timeout = t;
            // Starting replays logs and answers only at the end; an explicit timeout still wins.
            var startTimeout = chosen ?? client.StartTimeout;
            switch (verb)
            {
                case "version":
                    return await VersionAsync(client, interrupt.Token);
                case "backing-stop":
                    return await BackingStopAsync(client, args, interrupt.Token);
                case "backing-set" when args.Flag("wait"):
                    return await ModeSwitchWait.RunAsync(client, Request(args), args.Int("backing-id")!.Value, interrupt.Token);
                case "cache-start":
                {
                    var result = await client.SendAsync(verb, Request(args), timeout: startTimeout, cancel: interrupt.Token);
                    JsonOutput.Print(result);
                    var started = result.Deserialize(ControlJsonContext.Default.CacheStartResult);
                    foreach (var b in started?.Backings.Where(b => b.State != BackingStates.Running) ?? [])
                        Console.Error.WriteLine($"pcache cache-start: warning: backing {b.BackingId} ({b.BackingPath}) is {b.State}: {b.Error}");
                    return 0;
                }
                default:
                {
                    var timeout = verb == "backing-start" ? startTimeout : (TimeSpan?)null;
                    JsonOutput.Print(await client.SendAsync(verb, Request(args), timeout: timeout, cancel: interrupt.Token));
                    return 0;
                }
            }
        }
        catch (PCacheException e)
        {
            Console.Error.WriteLine($"pcache {verb}: {e.Message} [{e.Code}]");
            return 1;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"pcache {verb}: cancelled");
            return 130;
        }
    }

    /// <summary>The verb's "args" object, in protocol names, from the command-line options.</summary>
    private static JsonElement? Request(ParsedArgs a)
    {
        var c = ControlJsonContext.Default;
        return a.Verb.Name switch
        {
            "cache-start" => PCacheClient.Serialize(new CacheStartArgs
            {
                Path = Path.GetFullPath(a.Text("path")!),
                Size = a.Long("size"),
                Format = a.Flag("format"),
                Force = a.Flag("force"),
                DataCrc = a.Flag("data-crc"),
                SegmentSize = a.Long("segment-size"),
            }, c.CacheStartArgs),
            "cache-stop" => PCacheClient.Serialize(new CacheStopArgs { CacheId = a.Int("cache-id")!.Value }, c.CacheStopArgs),
            "backing-start" => PCacheClient.Serialize(new BackingStartArgs
            {
                Path = BackingPath.Normalize(a.Text("path")!),
                CacheSize = a.Long("cache-size")!.Value,
                CacheId = a.Int("cache-id"),
                Queues = a.Int("queues"),
                PersistOnWrite = a.Flag("persist-on-write"),
            }.Tuned(a), c.BackingStartArgs),
            "backing-list" => PCacheClient.Serialize(new BackingListArgs { CacheId = a.Int("cache-id") }, c.BackingListArgs),
            "backing-set" => PCacheClient.Serialize(new BackingSetArgs
            {
                BackingId = a.Int("backing-id")!.Value,
            }.Tuned(a), c.BackingSetArgs),
            "stat" => PCacheClient.Serialize(new StatArgs { BackingId = a.Int("backing-id"), Reset = a.Flag("reset") }, c.StatArgs),
            _ => null,
        };
    }

    /// <summary>The options backing-start and backing-set share: GC threshold, pacing, mode and admission.</summary>
    private static T Tuned<T>(this T args, ParsedArgs a) where T : BackingTuningArgs
    {
        args.GcPercent = a.Int("gc-percent");
        args.WritebackWatermark = a.Int("writeback-watermark");
        args.WritebackMaxAge = a.Int("writeback-max-age");
        args.WritebackRate = a.Long("writeback-rate");
        args.Mode = a.Text("mode");
        args.SequentialCutoff = a.Long("sequential-cutoff");
        args.ReadAdmission = a.Int("read-admission");
        return args;
    }

    private static async Task<int> BackingStopAsync(PCacheClient client, ParsedArgs a, CancellationToken cancel)
    {
        int id = a.Int("backing-id")!.Value;
        var printer = new DrainPrinter(id);
        try
        {
            var result = await client.SendAsync("backing-stop",
                PCacheClient.Serialize(new BackingStopArgs { BackingId = id, Force = a.Flag("force") }, ControlJsonContext.Default.BackingStopArgs),
                p => printer.Show(p.Deserialize(ControlJsonContext.Default.DrainProgress)!), cancel: cancel);
            printer.Finish();
            var stopped = result.Deserialize(ControlJsonContext.Default.BackingStopResult);
            Console.Error.WriteLine(stopped is { DiscardedDirtyBytes: > 0 }
                ? $"backing {id}: forgotten; {ByteSize.Format(stopped.DiscardedDirtyBytes)} of dirty data discarded"
                : $"backing {id}: all dirty data written back ({ByteSize.Format(stopped?.WrittenBackBytes ?? 0)}); stopped");
            JsonOutput.Print(result);
            return 0;
        }
        catch (OperationCanceledException e)
        {
            printer.Finish();
            Console.Error.WriteLine($"pcache backing-stop: {(e.Message.StartsWith("backing-stop cancelled", StringComparison.Ordinal) ? e.Message : $"cancelled; backing {id} stays attached and consistent")}");
            return 130;
        }
        catch
        {
            printer.Finish();
            throw;
        }
    }

    private static async Task<int> VersionAsync(PCacheClient client, CancellationToken cancel)
    {
        DaemonStatus? daemon = null;
        string? problem = null;
        try
        {
            daemon = await client.PingAsync(cancel);
        }
        catch (PCacheException e)
        {
            problem = e.Message;
        }
        using (var w = JsonOutput.Writer())
        {
            w.WriteStartObject();
            w.WriteString("client", DaemonHost.Version);
            w.WriteNumber("protocol", ControlProtocol.Version);
            w.WritePropertyName("daemon");
            if (daemon is null) w.WriteNullValue();
            else JsonSerializer.Serialize(w, daemon, ControlJsonContext.Default.DaemonStatus);
            w.WriteEndObject();
        }
        JsonOutput.NewLine();
        if (problem is not null) Console.Error.WriteLine($"pcache version: {problem}");
        return 0;
    }

    /// <summary>Drain progress on stderr: one line per change at most every second (redrawn in place on a terminal).</summary>
    private sealed class DrainPrinter(int backingId)
    {
        private readonly bool _terminal = !Console.IsErrorRedirected;
        private long _lastTicks;
        private bool _open;

        public void Show(DrainProgress p)
        {
            long now = Environment.TickCount64;
            bool first = _lastTicks == 0;
            if (!first && !p.Done && now - _lastTicks < 1000) return;
            _lastTicks = now;
            string text = first
                ? $"backing {backingId}: writing back {ByteSize.Format(p.InitialDirtyBytes)} of dirty data (Ctrl+C cancels and keeps the backing attached)"
                : $"backing {backingId}: {ByteSize.Format(p.DirtyBytes)} dirty left of {ByteSize.Format(p.InitialDirtyBytes)}" +
                  (p.InitialDirtyBytes > 0 ? $" ({100.0 * (p.InitialDirtyBytes - Math.Min(p.DirtyBytes, p.InitialDirtyBytes)) / p.InitialDirtyBytes:0}% written back)" : "");
            if (p.WritebackError is { } error) text += $"; write-back is failing: {error}";
            if (_terminal && !first)
            {
                Console.Error.Write($"\r\u001b[K{text}");
                _open = true;
            }
            else
            {
                Console.Error.WriteLine(text);
            }
        }

        public void Finish()
        {
            if (_open) Console.Error.WriteLine();
            _open = false;
        }
    }
}

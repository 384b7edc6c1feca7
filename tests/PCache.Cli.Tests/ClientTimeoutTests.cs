using System.Diagnostics;
using System.Net.Sockets;
using PCache.Client;

namespace PCache.Cli.Tests;

/// <summary>
/// A daemon that accepts but never answers (a real Unix socket that reads requests and says
/// nothing — a hung daemon as clients see it): the CLI and the client library give up after
/// their timeout with the error "timeout", and a waiting CLI ends promptly on SIGTERM.
/// </summary>
public sealed class ClientTimeoutTests
{
    private static readonly TimeSpan Liveness = TimeSpan.FromSeconds(30);

    /// <summary>Listens, accepts every connection, reads what comes, never writes.</summary>
    private sealed class MuteDaemon : IDisposable
    {
        private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        private readonly List<Socket> _held = [];
        private readonly Task _loop;
        private int _requests;

        public MuteDaemon(string path)
        {
            Path = path;
            _listener.Bind(new UnixDomainSocketEndPoint(path));
            _listener.Listen(16);
            _loop = Task.Run(async () =>
            {
                while (true)
                {
                    Socket s;
                    try { s = await _listener.AcceptAsync(); }
                    catch (Exception) { return; }
                    lock (_held) _held.Add(s);
                    _ = Task.Run(async () =>
                    {
                        var buffer = new byte[4096];
                        try
                        {
                            while (await s.ReceiveAsync(buffer) is > 0 and var n)
                                if (Array.IndexOf(buffer, (byte)'\n', 0, n) >= 0) Interlocked.Increment(ref _requests);
                        }
                        catch (Exception) { }
                    });
                }
            });
        }

        public string Path { get; }

        /// <summary>Request lines received (so a test knows the client is now waiting for an answer).</summary>
        public int Requests => Volatile.Read(ref _requests);

        public void Dispose()
        {
            _listener.Dispose();
            lock (_held) foreach (var s in _held) s.Dispose();
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
    }

    [Fact]
    public void CliVerbsGiveUpOnADaemonThatNeverAnswers()
    {
        using var box = new Sandbox();
        using var mute = new MuteDaemon(box.SocketPath);

        var byOption = Tools.Run(PcacheBinary.Path, ["stat", "--socket", mute.Path, "--timeout", "2"], timeout: Liveness);
        Assert.Equal(1, byOption.ExitCode);
        Assert.Contains("[timeout]", byOption.Stderr);
        Assert.Contains("sent nothing for 2 s", byOption.Stderr);
        Assert.Empty(byOption.Stdout);

        var byEnvironment = Tools.Run(PcacheBinary.Path, ["cache-list"],
            new Dictionary<string, string?> { ["PCACHE_SOCKET"] = mute.Path, ["PCACHE_TIMEOUT"] = "2" }, timeout: Liveness);
        Assert.Equal(1, byEnvironment.ExitCode);
        Assert.Contains("[timeout]", byEnvironment.Stderr);

        var bad = Tools.Run(PcacheBinary.Path, ["stat"],
            new Dictionary<string, string?> { ["PCACHE_SOCKET"] = mute.Path, ["PCACHE_TIMEOUT"] = "soon" }, timeout: Liveness);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("PCACHE_TIMEOUT='soon'", bad.Stderr);
        Assert.Equal(2, Tools.Run(PcacheBinary.Path, ["stat", "--timeout", "0"]).ExitCode);
    }

    [Fact]
    public void SigtermEndsACliWaitingOnAHungDaemonAtOnce()
    {
        using var box = new Sandbox();
        using var mute = new MuteDaemon(box.SocketPath);
        foreach (int signal in new[] { Tools.SIGTERM, Tools.SIGINT })
        {
            int before = mute.Requests;
            using var cli = Process.Start(Tools.StartInfo(PcacheBinary.Path, ["stat"], new Dictionary<string, string?> { ["PCACHE_SOCKET"] = mute.Path }))!;
            cli.StandardInput.Close();
            var stderr = cli.StandardError.ReadToEndAsync();
            var deadline = DateTime.UtcNow + Liveness;
            while (mute.Requests == before)
            {
                Assert.True(DateTime.UtcNow < deadline && !cli.HasExited, "the CLI never sent its request");
                Thread.Sleep(20);
            }
            Tools.Signal(cli.Id, signal);
            // The default timeout is 60 s: ending well inside it shows the signal was obeyed.
            Assert.True(cli.WaitForExit(Liveness), $"pcache stat ignored signal {signal}");
            Assert.Equal(130, cli.ExitCode);
            Assert.Contains("cancelled", stderr.Result);
        }
    }

    [Fact]
    public async Task TheClientLibraryTimesOutWithItsTimeoutProperty()
    {
        using var box = new Sandbox();
        using var mute = new MuteDaemon(box.SocketPath);
        var client = new PCacheClient(new SocketLocation(mute.Path, SocketLocation.FromParameter)) { Timeout = TimeSpan.FromSeconds(1) };
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<PCacheException>(() => client.StatAsync());
        Assert.Equal(ErrorCodes.Timeout, e.Code);
        Assert.True(clock.Elapsed < Liveness);
        Assert.Equal(TimeSpan.FromSeconds(1), client.RequestTimeout);

        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var pinging = client.PingAsync(cancel.Token);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pinging);
    }

    [Fact]
    public void ADrainLongerThanTheTimeoutIsNotCutShortWhileItReportsProgress()
    {
        Tools.Require("nbdsh");
        using var box = new Sandbox();
        using var disk = new FaultyBacking(box, writeDelay: "100ms");
        using var daemon = new TestDaemon(box);
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "256M", "--format", "--force");
        daemon.Json("backing-start", "--path", disk.DiskPath, "--cache-size", SeedExampleTests.SmallCache);
        // 60 scattered blocks: write-back cannot merge them, so it takes 60 slow writes.
        var w = Tools.Nbdsh(box.Uri(), Tools.PatternPy + """
            for i in range(60):
                h.pwrite(pattern(i, 4096), i * (512 << 10))
            h.flush()
            """);
        Assert.True(w.ExitCode == 0, w.ToString());
        var stop = daemon.Cli("backing-stop", "--backing-id", "0", "--timeout", "1");
        Assert.True(stop.ExitCode == 0, $"{stop}\n{daemon.Log}");
        Assert.Contains("all dirty data written back", stop.Stderr);
        Assert.Equal(0, daemon.Terminate());
    }
}

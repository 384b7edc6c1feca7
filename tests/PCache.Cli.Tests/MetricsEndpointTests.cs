using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PCache.Client;

namespace PCache.Cli.Tests;

/// <summary>
/// The OpenMetrics/Prometheus endpoint (pcache daemon --metrics-listen), scraped with curl and
/// linted by Prometheus' own promtool, after real NBD I/O from fio.
/// </summary>
public sealed class MetricsEndpointTests
{
    private const int Writes = 2048, Reads = 1024;

    [Fact]
    public void TheEndpointIsOffByDefaultAndABadAddressStopsTheDaemonWithAClearError()
    {
        using var box = new Sandbox();
        using (var daemon = new TestDaemon(box))
        {
            var (tcp, unix) = ListeningSockets(daemon.Pid);
            Assert.Empty(tcp);
            Assert.Equal(new[] { box.NbdSocketPath, box.SocketPath }.Order(), unix.Order());
            Assert.Equal(0, daemon.Terminate());
        }

        var bad = Tools.Run(PcacheBinary.Path, ["daemon", "--socket", box.SocketPath, "--metrics-listen", "127.0.0.1:http"]);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("--metrics-listen '127.0.0.1:http'", bad.Stderr);
        var relative = Tools.Run(PcacheBinary.Path, ["daemon", "--socket", box.SocketPath, "--metrics-listen", "unix:metrics.sock"]);
        Assert.Equal(1, relative.ExitCode);
        Assert.Contains("absolute path", relative.Stderr);
    }

    [Fact]
    public void OverTcpTheCountersAndHistogramsFollowFioIoAndPromtoolAcceptsTheOutput()
    {
        Tools.Require("fio");
        using var box = new Sandbox();
        int port = FreePort();
        using var daemon = new TestDaemon(box, "--metrics-listen", $"127.0.0.1:{port}");
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "256M", "--format", "--force");
        daemon.Json("backing-start", "--path", box.SparseFile("disk.img", 64 << 20), "--cache-size", SeedExampleTests.SmallCache);
        string url = $"http://127.0.0.1:{port}/metrics";

        var (headers, before) = Curl(url);
        Assert.StartsWith("HTTP/1.1 200", headers);
        Assert.Contains("Content-Type: text/plain; version=0.0.4; charset=utf-8", headers);
        Promtool(before);
        var b0 = Parse(before);
        const string backing = "cache=\"0\",backing=\"0\"";
        Assert.Equal(0, b0[$"pcache_backing_write_requests_total{{{backing}}}"]);
        Assert.Equal(0, b0[$"pcache_backing_request_duration_seconds_count{{{backing},op=\"write\"}}"]);

        Fio(box, "randwrite", Writes);
        Fio(box, "randread", Reads);

        var (_, after) = Curl(url);
        Promtool(after);
        var m = Parse(after);
        Assert.Equal(Writes, m[$"pcache_backing_write_requests_total{{{backing}}}"]);
        Assert.Equal((double)Writes * 4096, m[$"pcache_backing_write_bytes_total{{{backing}}}"]);
        Assert.Equal(Reads, m[$"pcache_backing_read_requests_total{{{backing}}}"]);
        foreach (var (op, n) in new[] { ("write", Writes), ("read", Reads) })
        {
            string series = $"{backing},op=\"{op}\"";
            Assert.Equal(n, m[$"pcache_backing_request_duration_seconds_count{{{series}}}"]);
            Assert.Equal(n, m[$"pcache_backing_request_duration_seconds_bucket{{{series},le=\"+Inf\"}}"]);
            Assert.True(m[$"pcache_backing_request_duration_seconds_sum{{{series}}}"] > 0, $"{op}: the latencies add up to nothing");
            // Cumulative buckets never fall, and the cache's family adds up its one backing.
            var buckets = m.Where(kv => kv.Key.StartsWith($"pcache_backing_request_duration_seconds_bucket{{{series},", StringComparison.Ordinal)).Select(kv => kv.Value).ToList();
            Assert.True(buckets.Count > 20, $"{op}: only {buckets.Count} buckets");
            Assert.Equal(buckets.Order(), buckets);
            Assert.Equal(n, m[$"pcache_cache_request_duration_seconds_count{{cache=\"0\",op=\"{op}\"}}"]);
        }
        Assert.Equal(0, m[$"pcache_backing_request_duration_seconds_count{{{backing},op=\"trim\"}}"]);

        // Gauges agree with stat, and every stat counter is exported.
        var stat = daemon.Stat(0);
        Assert.Equal(stat.CacheSegs, m[$"pcache_backing_cache_segments{{{backing}}}"]);
        Assert.Equal(0, m[$"pcache_backing_stuck_requests{{{backing}}}"]);
        Assert.Equal(1, m[$"pcache_backing_running{{{backing},path=\"{stat.BackingPath}\",state=\"running\"}}"]);
        foreach (string name in stat.Counters.Keys)
        {
            // Milliseconds go out in Prometheus' base unit, seconds.
            string exported = name.EndsWith("_ms", StringComparison.Ordinal) ? name[..^"_ms".Length] + "_seconds" : name;
            Assert.True(m.ContainsKey($"pcache_backing_{exported}_total{{{backing}}}"), $"counter {name} is not exported");
        }
        // stat shows the same histograms as percentiles.
        Assert.Equal(Writes, stat.Latency["write"].Count);
        Assert.InRange(stat.Latency["write"].P50Microseconds, 1, stat.Latency["write"].P99Microseconds);
        Assert.InRange(stat.Latency["write"].P99Microseconds, 1, stat.Latency["write"].P999Microseconds);

        // stat --reset clears the histograms as it clears the counters.
        daemon.Json("stat", "--reset");
        var cleared = Parse(Curl(url).Body);
        Assert.Equal(0, cleared[$"pcache_backing_request_duration_seconds_count{{{backing},op=\"write\"}}"]);
        Assert.Equal(0, daemon.Stat(0).Latency["write"].Count);
        Assert.Equal(0, daemon.Terminate());
    }

    [Fact]
    public void OnAUnixSocketFromTheConfigFileOpenMetricsIsServedWhenAskedAndTheSocketGoesWithTheDaemon()
    {
        using var box = new Sandbox();
        string socket = Path.Combine(box.Dir, "metrics.sock");
        string config = Path.Combine(box.Dir, "pcache.conf");
        File.WriteAllText(config, $$"""
            { // the daemon's config file
              "metrics_listen": "unix:{{socket}}",
            }
            """);
        using var daemon = new TestDaemon(box, "--config", config);
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "256M", "--format", "--force");
        daemon.Json("backing-start", "--path", box.SparseFile("disk.img", 64 << 20), "--cache-size", SeedExampleTests.SmallCache);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(socket));

        var (headers, text) = Curl("http://localhost/metrics", "--unix-socket", socket);
        Assert.Contains("Content-Type: text/plain; version=0.0.4", headers);
        Promtool(text);
        Assert.Contains("# TYPE pcache_backing_write_requests_total counter\n", text);

        var (omHeaders, om) = Curl("http://localhost/metrics", "--unix-socket", socket, "-H", "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5");
        Assert.Contains("Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8", omHeaders);
        Assert.EndsWith("\n# EOF\n", om);
        Assert.Contains("# TYPE pcache_backing_write_requests counter\n", om);
        Assert.Contains("pcache_backing_write_requests_total{cache=\"0\",backing=\"0\"} 0\n", om);
        Assert.Contains("# TYPE pcache_backing_request_duration_seconds histogram\n", om);

        Assert.Equal(0, daemon.Terminate());
        Assert.False(File.Exists(socket), "the metrics socket outlived the daemon");
    }

    [Fact]
    public void PrometheusItselfScrapesTheEndpointInOpenMetricsAndQueriesTheCounters()
    {
        string prometheus = Tools.Require("prometheus");
        using var box = new Sandbox();
        int port = FreePort(), web = FreePort();
        using var daemon = new TestDaemon(box, "--metrics-listen", $"127.0.0.1:{port}");
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "256M", "--format", "--force");
        daemon.Json("backing-start", "--path", box.SparseFile("disk.img", 64 << 20), "--cache-size", SeedExampleTests.SmallCache);
        var w = Tools.Nbdsh(box.Uri(), "h.pwrite(b'x' * 65536, 0)\nh.flush()\n");
        Assert.True(w.ExitCode == 0, w.ToString());

        string config = Path.Combine(box.Dir, "prometheus.yml");
        File.WriteAllText(config, $$"""
            global: { scrape_interval: 1s, scrape_timeout: 1s }
            scrape_configs:
              - job_name: pcache
                static_configs: [{ targets: ["127.0.0.1:{{port}}"] }]
            """);
        using var server = System.Diagnostics.Process.Start(Tools.StartInfo(prometheus, [$"--config.file={config}",
            $"--storage.tsdb.path={Path.Combine(box.Dir, "tsdb")}", $"--web.listen-address=127.0.0.1:{web}", "--log.level=warn"]))!;
        server.StandardInput.Close();
        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, _) => { };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            // Bounded wait for the first scrape (liveness, not a timing threshold).
            var deadline = DateTime.UtcNow.AddSeconds(90);
            System.Text.Json.JsonElement target = default;
            while (true)
            {
                Assert.False(server.HasExited, "prometheus exited");
                var r = Tools.Run("curl", ["-sS", "--max-time", "10", $"http://127.0.0.1:{web}/api/v1/targets"]);
                if (r.ExitCode == 0)
                {
                    var targets = System.Text.Json.JsonDocument.Parse(r.Stdout).RootElement.GetProperty("data").GetProperty("activeTargets");
                    if (targets.GetArrayLength() == 1 && targets[0].GetProperty("health").GetString() != "unknown")
                    {
                        target = targets[0].Clone();
                        break;
                    }
                }
                Assert.True(DateTime.UtcNow < deadline, $"prometheus never scraped the endpoint: {r}");
                Thread.Sleep(500);
            }
            Assert.True(target.GetProperty("health").GetString() == "up", $"prometheus could not use the endpoint: {target}");
            Assert.Equal("", target.GetProperty("lastError").GetString());

            var q = Tools.Run("curl", ["-sS", "--max-time", "10", "-G", $"http://127.0.0.1:{web}/api/v1/query",
                "--data-urlencode", "query=pcache_backing_write_bytes_total{cache=\"0\",backing=\"0\"}"]);
            Assert.True(q.ExitCode == 0, q.ToString());
            var result = System.Text.Json.JsonDocument.Parse(q.Stdout).RootElement.GetProperty("data").GetProperty("result");
            Assert.Equal("65536", Assert.Single(result.EnumerateArray()).GetProperty("value")[1].GetString());
        }
        finally
        {
            if (!server.HasExited) server.Kill();
            server.WaitForExit();
        }
        Assert.Equal(0, daemon.Terminate());
    }

    [Fact]
    public void BadRequestsGetHttpErrorsAndSlowClientsBlockNeitherTheDaemonNorAScrape()
    {
        using var box = new Sandbox();
        int port = FreePort();
        using var daemon = new TestDaemon(box, "--metrics-listen", $"127.0.0.1:{port}");
        var at = new IPEndPoint(IPAddress.Loopback, port);

        Assert.StartsWith("HTTP/1.1 400 ", Exchange(at, "\u0001\u0002garbage\u00ff\r\n\r\n"u8.ToArray()));
        Assert.StartsWith("HTTP/1.1 400 ", Exchange(at, "GET /metrics HTTP/2.0\r\n\r\n"u8.ToArray()));
        Assert.StartsWith("HTTP/1.1 404 ", Exchange(at, "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray()));
        Assert.StartsWith("HTTP/1.1 405 ", Exchange(at, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"u8.ToArray()));
        Assert.StartsWith("HTTP/1.1 431 ", Exchange(at, Encoding.ASCII.GetBytes("GET /metrics HTTP/1.1\r\nX-Pad: " + new string('a', 64 * 1024))));

        // Slowloris: connections that send half a request head and then nothing.
        var slow = Enumerable.Range(0, 16).Select(_ => Open(at, "GET /metrics HTTP/1.1\r\nHost: x\r\n")).ToList();
        try
        {
            var (headers, body) = Curl($"http://127.0.0.1:{port}/metrics");
            Assert.StartsWith("HTTP/1.1 200", headers);
            Promtool(body);
            daemon.Json("cache-list");
            // The server gives up on them (bounded wait: liveness, not a timing threshold).
            foreach (var s in slow)
            {
                s.ReceiveTimeout = 60_000;
                Assert.Equal(0, s.Receive(new byte[16]));
            }
        }
        finally
        {
            foreach (var s in slow) s.Dispose();
        }

        // The daemon stops cleanly with a scraper half-way through a request.
        using var stuck = Open(at, "GET /met");
        Assert.Equal(0, daemon.Terminate());
    }

    // ---- helpers ----------------------------------------------------------------------------

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private static void Fio(Sandbox box, string rw, int requests)
    {
        var r = Tools.Run("fio", ["--name=metrics", "--ioengine=nbd", $"--uri={box.Uri()}", $"--rw={rw}", "--bs=4k",
            $"--size={requests * 4}k", "--iodepth=4", "--norandommap", "--randrepeat=0", $"--number_ios={requests}"]);
        Assert.True(r.ExitCode == 0, $"fio {rw}: {r}");
    }

    /// <summary>curl's view of the reply: the head and the body.</summary>
    private static (string Headers, string Body) Curl(string url, params string[] extra)
    {
        var r = Tools.Run("curl", ["-sS", "--max-time", "30", "-D", "/dev/stderr", .. extra, url]);
        Assert.True(r.ExitCode == 0, $"curl {url}: {r}");
        return (r.Stderr, r.Stdout);
    }

    /// <summary>Prometheus' linter: it must accept the exposition without a single complaint.</summary>
    private static void Promtool(string exposition)
    {
        Tools.Require("promtool");
        var r = Tools.Run("promtool", ["check", "metrics"], stdin: exposition);
        Assert.True(r.ExitCode == 0 && r.Stdout.Trim().Length == 0 && r.Stderr.Trim().Length == 0, $"promtool check metrics: {r}");
    }

    /// <summary>Samples by "name{labels}".</summary>
    private static Dictionary<string, double> Parse(string exposition)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string line in exposition.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int space = line.LastIndexOf(' ');
            string value = line[(space + 1)..];
            samples[line[..space]] = value == "+Inf" ? double.PositiveInfinity : double.Parse(value, CultureInfo.InvariantCulture);
        }
        return samples;
    }

    private static Socket Open(IPEndPoint at, string partial)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Connect(at);
        s.Send(Encoding.ASCII.GetBytes(partial));
        return s;
    }

    /// <summary>Sends raw bytes and reads the reply until the server closes.</summary>
    private static string Exchange(IPEndPoint at, byte[] request)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 60_000 };
        s.Connect(at);
        try { s.Send(request); } catch (SocketException) { /* the server may refuse before all is sent */ }
        var reply = new MemoryStream();
        var buffer = new byte[4096];
        int n;
        try
        {
            while ((n = s.Receive(buffer)) > 0) reply.Write(buffer, 0, n);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset && reply.Length > 0)
        {
        }
        return Encoding.ASCII.GetString(reply.ToArray());
    }

    /// <summary>The daemon's listening TCP sockets (local address) and Unix sockets (path), from /proc.</summary>
    private static (List<string> Tcp, List<string> Unix) ListeningSockets(int pid)
    {
        var inodes = new HashSet<string>();
        foreach (string fd in Directory.GetFiles($"/proc/{pid}/fd"))
        {
            string? target = null;
            try { target = new FileInfo(fd).LinkTarget; } catch (IOException) { }
            if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal)) inodes.Add(target[8..^1]);
        }
        var tcp = new List<string>();
        foreach (string table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
            foreach (string line in File.ReadAllLines(table).Skip(1))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f[3] == "0A" && inodes.Contains(f[9])) tcp.Add(f[1]);
            }
        var unix = new List<string>();
        foreach (string line in File.ReadAllLines("/proc/net/unix").Skip(1))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // Flags 00010000: listening (__SO_ACCEPTCON).
            if (f.Length >= 8 && f[3] == "00010000" && inodes.Contains(f[6])) unix.Add(f[7]);
        }
        return (tcp, unix);
    }
}

namespace PCache.Cli.Tests;

/// <summary>Command lines that cannot run: a clear message on stderr naming the problem, nothing on stdout, exit 2.</summary>
public sealed class CliArgumentTests
{
    [Theory]
    [InlineData("no verb given")]
    [InlineData("unknown verb 'frobnicate'", "frobnicate")]
    [InlineData("did you mean 'backing-list'", "backing-lis")]
    [InlineData("unknown option '--bogus'", "backing-list", "--bogus")]
    [InlineData("unknown option '-z'", "backing-list", "-z")]
    [InlineData("unknown option '--nope' before the verb", "--nope", "backing-list")]
    [InlineData("'12Q' is not a size", "backing-start", "--path", "/x", "--cache-size", "12Q")]
    [InlineData("'1GB' is ambiguous", "cache-start", "--path", "/x", "--size", "1GB")]
    [InlineData("negative", "backing-start", "--path", "/x", "--cache-size", "-5M")]
    [InlineData("--cache-size must be at least", "backing-start", "--path", "/x", "--cache-size", "0")]
    [InlineData("--queues must be between 1 and 1024, not -1", "backing-start", "--path", "/x", "--cache-size", "1G", "--queues", "-1")]
    [InlineData("--gc-percent must be between 0 and 90, not 91", "backing-set", "--backing-id", "0", "--gc-percent", "91")]
    [InlineData("--gc-percent must be between 0 and 90, not 91", "backing-start", "-p", "/x", "-s", "1G", "-g", "91")]
    [InlineData("--backing-id must be 0 or more, not -3", "backing-stop", "--backing-id", "-3")]
    [InlineData("--backing-id N is required", "backing-stop")]
    [InlineData("--path PATH is required", "cache-start", "--format")]
    [InlineData("--path needs a value", "cache-start", "--path")]
    [InlineData("--path needs a value", "cache-start", "--path", "--format")]
    [InlineData("'abc' is not a whole number", "cache-stop", "--cache-id", "abc")]
    [InlineData("unexpected argument 'extra'", "backing-list", "extra")]
    [InlineData("--format takes no value", "cache-start", "--path", "/x", "--format=yes")]
    [InlineData("--cache-id is given twice", "backing-list", "--cache-id", "0", "--cache-id", "1")]
    public void BadCommandLinesFailClearly(string expected, params string[] args)
    {
        var r = Tools.Run(PcacheBinary.Path, args);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(expected, r.Stderr);
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public void HelpGoesToStdout()
    {
        var all = Tools.Run(PcacheBinary.Path, "--help");
        Assert.Equal(0, all.ExitCode);
        foreach (var verb in new[] { "daemon", "demo", "cache-start", "cache-stop", "cache-list", "backing-start", "backing-stop", "backing-list", "backing-set", "stat" })
            Assert.Contains(verb, all.Stdout);
        var one = Tools.Run(PcacheBinary.Path, "backing-start", "--help");
        Assert.Equal(0, one.ExitCode);
        Assert.Contains("--cache-size SIZE", one.Stdout);
        Assert.Contains("--queues", one.Stdout);
    }

    [Fact]
    public void WithoutADaemonTheMessageSaysHowToStartOne()
    {
        using var box = new Sandbox();
        var r = Tools.Run(PcacheBinary.Path, ["backing-list"], new Dictionary<string, string?> { ["PCACHE_SOCKET"] = box.SocketPath });
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("not running", r.Stderr);
        Assert.Contains("from PCACHE_SOCKET", r.Stderr);
        Assert.Contains("systemctl start pcache", r.Stderr);
        Assert.Contains("pcache daemon", r.Stderr);
        Assert.Contains("[daemon_unavailable]", r.Stderr);
        Assert.DoesNotContain("Cannot assign requested address", r.Stderr);

        // A socket file nobody listens on (left by a crashed daemon).
        Tools.Require("/usr/bin/python3");
        Tools.Check("/usr/bin/python3", "-c", $"import socket; socket.socket(socket.AF_UNIX).bind('{box.SocketPath}')");
        var stale = Tools.Run(PcacheBinary.Path, "--socket", box.SocketPath, "cache-list");
        Assert.Equal(1, stale.ExitCode);
        Assert.Contains("nothing listens", stale.Stderr);
        Assert.Contains("[daemon_unavailable]", stale.Stderr);
    }

    [Fact]
    public void TheDaemonRefusesBadOptionsBeforeStarting()
    {
        using var box = new Sandbox();
        var r = Tools.Run(PcacheBinary.Path, "daemon", "--socket", box.SocketPath, "--nbd-listen", "localhost:notaport");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--nbd-listen", r.Stderr);
        var group = Tools.Run(PcacheBinary.Path, "daemon", "--socket", box.SocketPath, "--group", "no-such-group-pcache");
        Assert.Equal(1, group.ExitCode);
        Assert.Contains("group 'no-such-group-pcache' does not exist", group.Stderr);
        string config = Path.Combine(box.Dir, "bad.conf");
        File.WriteAllText(config, """{ "caches": [ { "path": "/dev/shm/x", "sise": "1G" } ] }""");
        var bad = Tools.Run(PcacheBinary.Path, "daemon", "--socket", box.SocketPath, "--config", config);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("unknown field", bad.Stderr);
        Assert.Contains("sise", bad.Stderr);
    }
}

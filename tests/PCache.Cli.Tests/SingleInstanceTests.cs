namespace PCache.Cli.Tests;

/// <summary>A second daemon on the same control socket or the same cache device is refused, clearly.</summary>
public sealed class SingleInstanceTests
{
    [Fact]
    public void ASecondDaemonOnTheSameSocketIsRefused()
    {
        using var box = new Sandbox();
        using var first = new TestDaemon(box);
        using var second = new TestDaemon(box, [], null, waitReady: false);
        Assert.Equal(1, second.WaitForExit());
        Assert.Contains("another pcache daemon", second.Log);
        Assert.Contains($"(pid {first.Pid})", second.Log);
        Assert.Contains(box.SocketPath, second.Log);
        Assert.True(first.Cli("cache-list").ExitCode == 0, "the first daemon was disturbed");
        Assert.True(File.Exists(box.SocketPath));
    }

    [Fact]
    public void ASecondDaemonOnTheSameCacheDeviceIsRefused()
    {
        using var box = new Sandbox();
        using var other = new Sandbox();
        string pmem = box.PmemPath();
        using var first = new TestDaemon(box);
        first.Json("cache-start", "--path", pmem, "--size", "256M", "--format", "--force");

        using (var second = new TestDaemon(other))
        {
            var r = second.Cli("cache-start", "--path", pmem);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("another pcache daemon", r.Stderr);
            Assert.Contains("[conflict]", r.Stderr);
            var format = second.Cli("cache-start", "--path", pmem, "--format", "--force");
            Assert.Equal(1, format.ExitCode);
            Assert.Contains("another pcache daemon", format.Stderr);
        }

        // Brought up from a config file, the second daemon does not start at all.
        string config = Path.Combine(other.Dir, "pcache.conf");
        File.WriteAllText(config, $$"""{ "caches": [ { "path": "{{pmem}}" } ] }""");
        using (var second = new TestDaemon(other, ["--config", config], null, waitReady: false))
        {
            Assert.Equal(1, second.WaitForExit());
            Assert.Contains("another pcache daemon", second.Log);
        }

        // The same daemon asked twice says which cache it already is.
        var twice = first.Cli("cache-start", "--path", pmem);
        Assert.Equal(1, twice.ExitCode);
        Assert.Contains("already started as cache 0", twice.Stderr);
        Assert.Equal(1, first.Json("cache-list").GetArrayLength());
    }
}

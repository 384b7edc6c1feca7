using System.Diagnostics;
using PCache.Client;

namespace PCache.Cli.Tests;

/// <summary>Who may talk to the daemon, and many may at once.</summary>
public sealed class AccessTests
{
    [Fact]
    public async Task TwoClientsAtOnce()
    {
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box);
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "1G", "--format", "--force");
        daemon.Json("backing-start", "--path", box.SparseFile("b.img", 64 << 20), "--cache-size", SeedExampleTests.SmallCache);

        // A client that connects and says nothing does not hold anyone up.
        using var idle = new RawControl(box.SocketPath);
        var clients = Enumerable.Range(0, 2).Select(i => Task.Run(() =>
            Enumerable.Range(0, 10).Select(_ => daemon.Cli(i == 0 ? "backing-list" : "stat")).ToList())).ToArray();
        foreach (var r in (await Task.WhenAll(clients)).SelectMany(c => c))
            Assert.True(r.ExitCode == 0, r.ToString());

        // The client library, concurrently, from one process.
        var client = new PCacheClient(box.SocketPath);
        var lists = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => client.ListBackingsAsync()));
        Assert.All(lists, l => Assert.Equal("running", l.Single().State));
        Assert.Equal(ControlProtocol.Version, (await client.PingAsync()).Protocol);
    }

    [Fact]
    public void AUserWhoMayOpenTheSocketButIsNotPermittedIsRefused()
    {
        Tools.Require("setpriv");
        using var box = new Sandbox();
        File.SetUnixFileMode(box.Dir, (UnixFileMode)0x1ed); // 0755: the socket itself is reachable
        using var daemon = new TestDaemon(box);
        // uid nobody in group root passes the socket's 0660 root:root mode; the peer-credential
        // check is what stops it.
        var r = AsNobody(box, gid: 0, "backing-list");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("permission denied", r.Stderr);
        Assert.Contains("uid 65534", r.Stderr);
        Assert.Contains("[permission_denied]", r.Stderr);
        Assert.Equal("", r.Stdout);
        daemon.WaitForLog("permission denied: uid 65534");
        Assert.True(daemon.Cli("backing-list").ExitCode == 0); // root still gets in
    }

    [Fact]
    public void AUserOutsideTheSocketsGroupIsDeniedByTheFileMode()
    {
        Tools.Require("setpriv");
        using var box = new Sandbox();
        File.SetUnixFileMode(box.Dir, (UnixFileMode)0x1ed);
        using var daemon = new TestDaemon(box);
        var r = AsNobody(box, gid: 65534, "cache-list");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("permission denied", r.Stderr);
        Assert.Contains("[permission_denied]", r.Stderr);
        Assert.DoesNotContain("Cannot assign requested address", r.Stderr);
    }

    [Fact]
    public void TheConfiguredGroupIsAllowed()
    {
        Tools.Require("setpriv");
        using var box = new Sandbox();
        File.SetUnixFileMode(box.Dir, (UnixFileMode)0x1ed);
        using var daemon = new TestDaemon(box, "--group", "nogroup");
        var r = AsNobody(box, gid: 65534, "cache-list");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("[]", r.Stdout.Trim());
    }

    private static Result AsNobody(Sandbox box, int gid, params string[] args) =>
        Tools.Run("setpriv", ["--reuid", "65534", "--regid", gid.ToString(), "--clear-groups", PcacheBinary.Path, "--socket", box.SocketPath, .. args]);
}

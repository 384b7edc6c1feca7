using System.Text.RegularExpressions;

namespace PCache.Cli.Tests;

/// <summary>What systemd sees: readiness and stopping notifications, journald priority prefixes, exit 0 on SIGTERM.</summary>
public sealed class SystemdTests
{
    [Fact]
    public void NotifiesReadyAndStoppingAndLogsWithJournalPriorities()
    {
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box, [], new Dictionary<string, string?> { ["JOURNAL_STREAM"] = "8:12345" });
        string ready = daemon.Notifications.Single(n => n.Contains("READY=1"));
        Assert.Contains($"MAINPID={daemon.Pid}", ready);
        Assert.Contains("STATUS=", ready);
        daemon.Json("cache-start", "--path", box.PmemPath(), "--size", "256M");
        Assert.Equal(0, daemon.Terminate());
        daemon.WaitFor("STOPPING=1");
        var lines = daemon.Log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.Matches(new Regex(@"^<[3-7]>"), l));
        Assert.Contains(lines, l => l.StartsWith("<5>") && l.Contains("cache 0 started"));
    }

    [Fact]
    public void SigintStopsCleanlyToo()
    {
        using var box = new Sandbox();
        using var daemon = new TestDaemon(box);
        Tools.Signal(daemon.Pid, Tools.SIGINT);
        Assert.Equal(0, daemon.WaitForExit());
        Assert.Contains("received SIGINT", daemon.Log);
        Assert.DoesNotMatch(new Regex(@"^<\d>", RegexOptions.Multiline), daemon.Log); // no prefixes outside the journal
        Assert.False(File.Exists(box.SocketPath));
        Assert.False(File.Exists(box.NbdSocketPath));
    }
}

using System.Net.Sockets;

namespace PCache.Cli.Tests;

/// <summary>
/// A local backing device that fails, is slow or hangs on demand, made with real tools: an nbdkit
/// memory disk behind the error filter (reads, writes, zeroes and trims fail with EIO while
/// a trigger file exists; nbdkit 1.32 cannot fail a flush), the delay filter (fixed read and write latency) and the pause filter
/// (requests hang from "pause" until "resume"), shown to the daemon as a regular file by nbdfuse.
/// </summary>
internal sealed class FaultyBacking : IDisposable
{
    private readonly FuseDisk _disk;
    private readonly string _trigger;
    private readonly string _pauseControl;

    /// <param name="readDelay">nbdkit delay syntax ("0", "2", "20ms"); applies to reads.</param>
    /// <param name="writeDelay">The same for writes, zeroes and trims.</param>
    public FaultyBacking(Sandbox box, string size = "64M", string readDelay = "0", string writeDelay = "0")
    {
        _trigger = Path.Combine(box.Dir, "fail-all");
        _pauseControl = Path.Combine(box.Dir, "pause.sock");
        // Filters run left to right: a paused request hangs before it is delayed or failed.
        _disk = new FuseDisk(box, "faulty",
            ["--filter=pause", "--filter=delay", "--filter=error", "memory", size,
             $"pause-control={_pauseControl}", $"rdelay={readDelay}", $"wdelay={writeDelay}", "error=EIO",
             "error-rate=100%", $"error-file={_trigger}"],
            () => File.Exists(_pauseControl));
    }

    /// <summary>The regular file the daemon uses as its backing device.</summary>
    public string DiskPath => _disk.DiskPath;

    /// <summary>While true every request to the disk fails with EIO.</summary>
    public bool Failing
    {
        set
        {
            if (value) File.WriteAllText(_trigger, "");
            else File.Delete(_trigger);
        }
    }

    /// <summary>From now on requests hang; returns once those already running finished.</summary>
    public void Pause() => Control('p', 'P');

    /// <summary>Hung requests go on.</summary>
    public void Resume() => Control('r', 'R');

    private void Control(char command, char reply)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(_pauseControl));
        s.Send([(byte)command]);
        s.ReceiveTimeout = 60_000;
        var answer = new byte[1];
        Assert.True(s.Receive(answer) == 1 && answer[0] == (byte)reply, $"nbdkit's pause filter did not answer '{reply}'");
    }

    public void Dispose()
    {
        try { Resume(); } catch (Exception) { /* already gone */ }
        _disk.Dispose();
    }
}

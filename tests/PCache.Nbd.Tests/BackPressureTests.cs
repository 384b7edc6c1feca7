namespace PCache.Nbd.Tests;

/// <summary>A client that stops reading replies only stalls itself; serial, because it counts the process's threads.</summary>
[Collection(nameof(SerialCollection))]
public sealed class BackPressureTests
{
    private const ushort Read = 0;

    [Fact]
    public async Task ClientsThatDoNotReadRepliesCannotHoldUpAStopOrMultiplyThreads()
    {
        using var server = new InProcessServer(new NbdServerOptions
        {
            ShutdownGracePeriod = TimeSpan.FromMilliseconds(50),
            ShutdownTimeout = TimeSpan.FromMilliseconds(500),
        });
        using var client = server.Connect();
        client.Go("pcache0");
        int threadsBefore = System.Diagnostics.Process.GetCurrentProcess().Threads.Count;
        // 64 MiB of replies nobody reads: far beyond the socket buffers, so the server's sends block.
        for (int i = 0; i < 64; i++)
            client.SendRequest(Read, (ulong)i, 0, 1 << 20);
        await Task.Delay(300);
        int threadsAfter = System.Diagnostics.Process.GetCurrentProcess().Threads.Count;
        // The failure this guards against is a thread per blocked request (64 here). The bound leaves
        // room for the runtime's own thread-pool injection, which on a loaded machine alone adds a
        // dozen or more threads within these 300 ms and made a tighter bound flaky.
        Assert.True(threadsAfter - threadsBefore < 32, $"{threadsAfter - threadsBefore} threads started for one client sending 64 requests");
        await server.Server.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, server.Server.ConnectionCount);
    }
}

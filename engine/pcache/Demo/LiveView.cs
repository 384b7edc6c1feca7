using PCache.Client;

namespace PCache.Daemon.Demo;

/// <summary>
/// A one-line view of a backing refreshed every second: IOPS over the last second, read hit
/// ratio, dirty bytes and used segments. On a terminal the line is redrawn in place; into a pipe
/// it is one line per second.
/// </summary>
internal static class LiveView
{
    public static async Task RunAsync(PCacheClient client, int backingId, CancellationToken stop)
    {
        bool terminal = !Console.IsOutputRedirected;
        Console.Out.WriteLine($"  {"time",-8}  {"read IOPS",10}  {"write IOPS",10}  {"hit ratio",9}  {"dirty",10}  {"used segments",14}");
        Dictionary<string, long>? previous = null;
        long previousTicks = 0;
        while (!stop.IsCancellationRequested)
        {
            var stat = (await client.StatAsync(new StatArgs { BackingId = backingId }, stop)).Backings.Single();
            long now = Environment.TickCount64;
            var c = stat.Counters;
            string readIops = "-", writeIops = "-", hit = "-";
            if (previous is not null)
            {
                double seconds = Math.Max(0.001, (now - previousTicks) / 1000.0);
                readIops = $"{Delta(c, previous, "read_requests") / seconds:0}";
                writeIops = $"{Delta(c, previous, "write_requests") / seconds:0}";
                long hits = Delta(c, previous, "read_hit_bytes"), misses = Delta(c, previous, "read_miss_bytes");
                if (hits + misses > 0) hit = $"{100.0 * hits / (hits + misses):0.0}%";
            }
            previous = c;
            previousTicks = now;
            string line = $"  {DateTime.Now:HH:mm:ss}  {readIops,10}  {writeIops,10}  {hit,9}  {ByteSize.Format(stat.DirtyBytes),10}  {$"{stat.CacheUsedSegs}/{stat.CacheSegs}",14}";
            if (terminal) Console.Out.Write($"\r\u001b[K{line}");
            else Console.Out.WriteLine(line);
            await Task.Delay(1000, stop);
        }
    }

    private static long Delta(Dictionary<string, long> now, Dictionary<string, long> before, string name) =>
        now.GetValueOrDefault(name) - before.GetValueOrDefault(name);
}

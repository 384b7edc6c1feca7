using System.Text.Json;
using PCache.Client;

namespace PCache.Daemon.Cli;

/// <summary>
/// backing-set --wait: change the settings, then follow the background write-back of the dirty
/// data a mode switch left (stat's dirty bytes) until none is left. Ctrl+C stops watching only:
/// the new mode stays and write-back goes on.
/// </summary>
internal static class ModeSwitchWait
{
    public static async Task<int> RunAsync(PCacheClient client, JsonElement? request, int backingId, CancellationToken cancel)
    {
        var result = await client.SendAsync("backing-set", request, cancel: cancel);
        // Absorbing modes keep dirty data by design: there is nothing to wait for.
        if (result.GetProperty("mode").GetString() is "writeback" or "writeonly")
        {
            JsonOutput.Print(result);
            return 0;
        }
        long initial = -1;
        string? lastError = null;
        while (true)
        {
            var stat = (await client.StatAsync(new StatArgs { BackingId = backingId }, cancel)).Backings.Single();
            if (stat.State != BackingStates.Running)
                throw new PCacheException(ErrorCodes.Conflict, $"backing {backingId} stopped running ({stat.State}) before its dirty data was written back");
            if (stat.DirtyBytes <= 0 && stat.PendingKeys == 0) break;
            if (initial < 0) Console.Error.WriteLine($"backing {backingId}: {stat.Mode}; writing back {ByteSize.Format(stat.DirtyBytes)} of dirty data (Ctrl+C stops waiting, not the write-back)");
            else Console.Error.WriteLine($"backing {backingId}: {ByteSize.Format(stat.DirtyBytes)} dirty left");
            if (stat.WritebackError is { } error && error != lastError) Console.Error.WriteLine($"backing {backingId}: write-back is failing: {error}");
            lastError = stat.WritebackError;
            initial = Math.Max(initial, stat.DirtyBytes);
            await Task.Delay(TimeSpan.FromMilliseconds(initial < 0 ? 100 : 1000), cancel);
        }
        // The entry as it is now, with the write-back finished.
        if ((await client.ListBackingsAsync(null, cancel)).FirstOrDefault(b => b.BackingId == backingId) is { } now)
            result = PCacheClient.Serialize(now, ControlJsonContext.Default.BackingEntry);
        JsonOutput.Print(result);
        return 0;
    }
}

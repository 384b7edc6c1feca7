using PCache.Client;
using PCache.Daemon.Cli;

namespace PCache.Daemon.Demo;

/// <summary>
/// `pcache demo` (what `./build.sh demo` runs): a private daemon in a temporary directory with a
/// 1 GiB emulated pmem file (in /dev/shm) and a sparse backing file, one backing attached, the
/// NBD URI and copy-paste lines printed, then a live view until Ctrl+C — after which everything
/// it created is removed.
/// </summary>
internal static class DemoCommand
{
    public static async Task<int> RunAsync(ParsedArgs a)
    {
        long pmemSize = a.Long("size") ?? 1L << 30;
        long backingSize = a.Long("backing-size") ?? 4L << 30;
        long cacheSize = a.Long("cache-size") ?? pmemSize / 2;

        string dir = PrivateDirectory();
        string pmem = Directory.Exists("/dev/shm")
            ? $"/dev/shm/{Path.GetFileName(dir)}.pmem"
            : Path.Combine(dir, "pmem.img");
        string backing = Path.Combine(dir, "backing.img");
        string socket = Path.Combine(dir, "pcache.sock");
        int exitCode = 0;
        using var signals = new ShutdownSignals();
        Log.MinimumLevel = LogLevel.Warning; // the live view owns the terminal; only trouble is worth a line
        try
        {
            using (var f = new FileStream(backing, FileMode.CreateNew)) f.SetLength(backingSize);
            var options = DaemonOptions.Resolve(socket, Path.Combine(dir, "nbd.sock"), null, null, null, null);
            var ready = new TaskCompletionSource();
            var daemon = new DaemonHost(options).RunAsync(signals.Token, () => ready.TrySetResult());
            if (await Task.WhenAny(ready.Task, daemon) == daemon)
            {
                Console.Error.WriteLine("pcache demo: the daemon did not start (see above)");
                return 1;
            }
            try
            {
                var client = new PCacheClient(new SocketLocation(socket, SocketLocation.FromParameter));
                await client.StartCacheAsync(new CacheStartArgs { Path = pmem, Size = pmemSize, Format = true, Force = true }, signals.Token);
                var b = await client.StartBackingAsync(new BackingStartArgs { Path = backing, CacheSize = cacheSize }, signals.Token);
                PrintIntro(dir, pmem, pmemSize, backing, backingSize, socket, b);
                await LiveView.RunAsync(client, b.BackingId, signals.Token);
            }
            catch (PCacheException e)
            {
                Console.Error.WriteLine($"pcache demo: {e.Message}");
                exitCode = 1;
            }
            catch (OperationCanceledException)
            {
            }
            signals.Request();
            if (!Console.IsOutputRedirected) Console.Out.WriteLine(); // end the live line
            Console.Out.WriteLine("pcache demo: stopping the daemon and removing its files...");
            exitCode = await daemon != 0 ? 1 : exitCode;
        }
        catch (DaemonStartException e)
        {
            Console.Error.WriteLine($"pcache demo: {e.Message}");
            exitCode = 1;
        }
        finally
        {
            TryDelete(pmem);
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        Console.Out.WriteLine($"pcache demo: stopped; removed {dir} and {pmem}");
        return exitCode;
    }

    private static void PrintIntro(string dir, string pmem, long pmemSize, string backing, long backingSize, string socket, BackingEntry b)
    {
        string uri = b.LogicDev!;
        Console.Out.WriteLine($"""
            PCache demo: a private pcache daemon in {dir}

              cache device  {pmem} ({ByteSize.Format(pmemSize)} file standing in for pmem)
              backing       {backing} ({ByteSize.Format(backingSize)} sparse file), {ByteSize.Format(b.CacheSize)} of cache
              NBD export    {uri}

            Copy-paste into another terminal:
              nbdinfo '{uri}'
              qemu-io -f raw -c 'write -P 0x5a 0 4M' -c 'read -P 0x5a 0 4M' '{uri}'
              fio --name=pcache --ioengine=nbd --uri='{uri}' --rw=randrw --bs=4k --iodepth=16 --size=1G --runtime=30 --time_based
              PCACHE_SOCKET={socket} {Environment.ProcessPath ?? "pcache"} backing-list

            Live statistics (Ctrl+C stops the demo and removes its files):
            """);
    }

    /// <summary>A 0700 directory under $TMPDIR, or /tmp when that path would be too long for a Unix socket.</summary>
    private static string PrivateDirectory()
    {
        var dir = Directory.CreateTempSubdirectory("pcache-demo-").FullName;
        if (dir.Length + "/pcache.sock.lock".Length <= 100) return dir;
        Directory.Delete(dir);
        return Directory.CreateDirectory(Path.Combine("/tmp", $"pcache-demo-{Environment.ProcessId}-{Random.Shared.Next():x}")).FullName;
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

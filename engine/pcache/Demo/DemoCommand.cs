using PCache.Client;
using PCache.Daemon.Cli;
using PCache.Engine.Backing;
using PCache.Nbd;

namespace PCache.Daemon.Demo;

/// <summary>
/// `pcache demo` (what `./build.sh demo` runs): a private daemon in a temporary directory with a
/// 1 GiB emulated pmem file (in /dev/shm) caching a slow disk — a sparse file the demo serves over
/// NBD itself with a delay per request, as a volume a network hop away — attached as an
/// nbd+unix:// backing. It times a short workload on the slow disk and through the cache, prints
/// both side by side with the NBD URI and copy-paste lines, then a live view until Ctrl+C — after
/// which everything it created is removed.
/// </summary>
internal static class DemoCommand
{
    private static readonly TimeSpan DiskDelay = TimeSpan.FromMilliseconds(1);

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
        string slowSocket = Path.Combine(dir, "slow.sock");
        string slowUri = $"nbd+unix:///slow?socket={slowSocket}";
        NbdServer? slowServer = null;
        FileBackingDevice? slowFile = null;
        int exitCode = 0;
        using var signals = new ShutdownSignals();
        Log.MinimumLevel = LogLevel.Warning; // the live view owns the terminal; only trouble is worth a line
        try
        {
            using (var f = new FileStream(backing, FileMode.CreateNew)) f.SetLength(backingSize);
            slowFile = FileBackingDevice.Open(backing);
            var disk = new SlowDisk("slow", slowFile, DiskDelay);
            slowServer = new NbdServer(new ExportCatalog(disk), new NbdServerOptions { UnixSocketPath = slowSocket });
            slowServer.Start();
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
                var b = await client.StartBackingAsync(new BackingStartArgs { Path = slowUri, CacheSize = cacheSize }, signals.Token);
                Console.Out.WriteLine("pcache demo: timing 4 KiB requests on the slow disk and through the cache...");
                // The probe on the slow disk uses its upper half, which the cached probe never touches.
                var slow = await Task.Run(() => LatencyProbe.Run(slowUri, backingSize / 2, 64 << 20, 200), signals.Token);
                var cached = await Task.Run(() => LatencyProbe.Run(b.LogicDev!, 0, 64 << 20, 200), signals.Token);
                PrintIntro(dir, pmem, pmemSize, backing, backingSize, socket, b, slow, cached);
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
            if (slowServer is not null) await slowServer.DisposeAsync();
            slowServer = null;
        }
        catch (DaemonStartException e)
        {
            Console.Error.WriteLine($"pcache demo: {e.Message}");
            exitCode = 1;
        }
        finally
        {
            if (slowServer is not null) await slowServer.DisposeAsync();
            slowFile?.Dispose();
            TryDelete(pmem);
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        Console.Out.WriteLine($"pcache demo: stopped; removed {dir} and {pmem}");
        return exitCode;
    }

    private static void PrintIntro(string dir, string pmem, long pmemSize, string backing, long backingSize, string socket, BackingEntry b,
        LatencyProbe.Result slow, LatencyProbe.Result cached)
    {
        string uri = b.LogicDev!;
        static string Us(double us) => us >= 1000 ? $"{us / 1000:0.00} ms" : $"{us:0} us";
        static string Ratio(double a, double b) => b > 0 ? $"{a / b:0}x faster" : "";
        Console.Out.WriteLine($"""
            PCache demo: a private pcache daemon in {dir}

              cache device  {pmem} ({ByteSize.Format(pmemSize)} file standing in for pmem)
              backing       {b.BackingPath}
                            a slow disk served by the demo: {backing} ({ByteSize.Format(backingSize)} sparse file),
                            {DiskDelay.TotalMilliseconds:0.#} ms per request; {ByteSize.Format(b.CacheSize)} of cache in front of it
              NBD export    {uri}

            Median latency of 4 KiB requests, one at a time (200 writes, then reads of the same blocks):
                              slow disk    through PCache
              write         {Us(slow.WriteMicros),10}    {Us(cached.WriteMicros),10}    {Ratio(slow.WriteMicros, cached.WriteMicros)}
              read          {Us(slow.ReadMicros),10}    {Us(cached.ReadMicros),10}    {Ratio(slow.ReadMicros, cached.ReadMicros)}
              flush         {Us(slow.FlushMicros),10}    {Us(cached.FlushMicros),10}    (every 20 writes)

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

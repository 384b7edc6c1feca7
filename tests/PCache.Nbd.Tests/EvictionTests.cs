namespace PCache.Nbd.Tests;

/// <summary>
/// The cache-specific regression of nbd.md §4.2: write three times what the cache holds without
/// any FLUSH, then read everything back. nbdkit's cache filter loses data here; a cache that
/// never drops dirty data makes writers wait for write-back instead.
/// </summary>
public class EvictionTests
{
    [Fact]
    public void Writing_three_times_the_cache_without_flush_reads_back_every_block()
    {
        using var host = new DaemonExport(size: 64L << 20, cacheSize: 16L << 20);
        var result = Tools.NbdshWithUri(host.Uri, """
            import hashlib
            h = nbd.NBD()
            h.connect_uri(uri)
            mib = 1 << 20
            def pattern(i):
                return hashlib.sha256(str(i).encode()).digest() * (mib // 32)
            for i in range(48):
                h.pwrite(pattern(i), i * mib)
            bad = [i for i in range(48) if h.pread(mib, i * mib) != pattern(i)]
            print("bad", len(bad), bad[:8])
            assert not bad
            """, TimeSpan.FromMinutes(3));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("bad 0", result.Stdout);

        // And after a graceful restart the engine replays and still serves every block.
        host.Stop();
        host.Start();
        var again = Tools.NbdshWithUri(host.Uri, """
            import hashlib
            h = nbd.NBD()
            h.connect_uri(uri)
            mib = 1 << 20
            for i in range(48):
                assert h.pread(mib, i * mib) == hashlib.sha256(str(i).encode()).digest() * (mib // 32), i
            print("restart ok")
            """, TimeSpan.FromMinutes(3));
        Assert.True(again.ExitCode == 0, again.ToString());
    }
}

using System.Text.Json;

namespace PCache.Nbd.Tests;

/// <summary>What nbdinfo (libnbd) sees of an export served by the daemon.</summary>
public sealed class NbdInfoTests
{
    [Fact]
    public void JsonShowsSizeBlockSizesAndFlags()
    {
        using var host = new DaemonExport(size: 64L << 20);
        var json = JsonDocument.Parse(Tools.Check("nbdinfo", "--json", host.Uri)).RootElement;
        Assert.Equal("newstyle-fixed", json.GetProperty("protocol").GetString());
        Assert.True(json.GetProperty("structured").GetBoolean());
        var export = json.GetProperty("exports")[0];
        Assert.Equal("pcache0", export.GetProperty("export-name").GetString());
        Assert.Equal(host.BackingFile, export.GetProperty("description").GetString());
        Assert.Equal(64L << 20, export.GetProperty("export-size").GetInt64());
        Assert.Equal(512, export.GetProperty("block_size_minimum").GetInt32());
        Assert.Equal(4096, export.GetProperty("block_size_preferred").GetInt32());
        Assert.Equal(33554432, export.GetProperty("block_size_maximum").GetInt32());
        Assert.Contains("base:allocation", export.GetProperty("contexts").EnumerateArray().Select(c => c.GetString()));
        foreach (var flag in new[] { "can_cache", "can_df", "can_fast_zero", "can_flush", "can_fua", "can_multi_conn", "can_trim", "can_zero" })
            Assert.True(export.GetProperty(flag).GetBoolean(), flag);
        Assert.False(export.GetProperty("is_read_only").GetBoolean());
        Assert.False(export.GetProperty("is_rotational").GetBoolean());
    }

    [Fact]
    public void CanAndIsAgreeWithWhatWorks()
    {
        using var host = new DaemonExport();
        foreach (var feature in new[] { "flush", "fua", "trim", "zero", "fast-zero", "cache", "multi-conn", "structured-reply", "df", "read", "write", "connect" })
        {
            var result = Tools.Run("nbdinfo", "--can", feature, host.Uri);
            Assert.True(result.ExitCode == 0, $"--can {feature}: {result}");
        }
        foreach (var property in new[] { "read-only", "rotational", "tls" })
        {
            var result = Tools.Run("nbdinfo", "--is", property, host.Uri);
            Assert.True(result.ExitCode == 2, $"--is {property} should be false: {result}");
        }

        // Each advertised feature really works (the commands behind the flags), checked with nbdsh.
        var run = Tools.NbdshWithUri(host.Uri, """
            h = nbd.NBD()
            h.add_meta_context("base:allocation")
            h.connect_uri(uri)
            h.pwrite(b"\xab" * 65536, 0)
            h.pwrite(b"\xcd" * 4096, 65536, nbd.CMD_FLAG_FUA)
            h.flush()
            assert h.pread(4096, 65536) == b"\xcd" * 4096
            h.trim(65536, 1 << 20)
            h.zero(65536, 2 << 20)
            assert h.pread(65536, 2 << 20) == bytes(65536)
            h.zero(65536, 3 << 20, nbd.CMD_FLAG_NO_HOLE)
            h.zero(65536, 4 << 20, nbd.CMD_FLAG_FAST_ZERO)
            assert h.pread(65536, 4 << 20) == bytes(65536)
            h.cache(1 << 20, 0)
            seen = []
            h.block_status(8 << 20, 0, lambda ctx, off, ents, err: seen.extend(ents) or 0)
            assert seen[0] >= 65536 + 4096 and seen[1] == 0, seen     # the data written at 0
            assert sum(seen[0::2]) <= 8 << 20, seen
            one = []
            h.block_status(8 << 20, 0, lambda ctx, off, ents, err: one.extend(ents) or 0, nbd.CMD_FLAG_REQ_ONE)
            assert len(one) == 2, one
            chunks = []
            h.pread_structured(16384, 0, lambda buf, off, st, err: chunks.append((off, st, bytes(buf))) or 0, nbd.CMD_FLAG_DF)
            assert chunks == [(0, nbd.READ_DATA, b"\xab" * 16384)], chunks   # DF: one chunk
            h.shutdown()
            print("features OK")
            """);
        Assert.True(run.ExitCode == 0 && run.Stdout.Contains("features OK"), run.ToString());
    }

    [Fact]
    public void ServesOverTcpOnLoopback()
    {
        using var host = new DaemonExport(tcp: true);
        Assert.NotNull(host.TcpUri);
        Assert.StartsWith("nbd://127.0.0.1:", host.TcpUri);
        Assert.EndsWith("/pcache0", host.TcpUri);
        Assert.Equal((64L << 20).ToString(), Tools.Check("nbdinfo", "--size", host.TcpUri).Trim());
    }

    [Fact]
    public void ListShowsEveryExportAndUnknownNamesFail()
    {
        using var host = new DaemonExport(size: 16L << 20, cacheSize: 8L << 20, backings: 2);
        var list = Tools.Check("nbdinfo", "--list", "--json", host.Uri);
        var exports = JsonDocument.Parse(list).RootElement.GetProperty("exports");
        Assert.Equal(["pcache0", "pcache1"], exports.EnumerateArray().Select(e => e.GetProperty("export-name").GetString()).Order());
        Assert.Equal(host.BackingFiles[1], exports.EnumerateArray().Single(e => e.GetProperty("export-name").GetString() == "pcache1").GetProperty("description").GetString());
        var missing = Tools.Run("nbdinfo", $"nbd+unix:///nope?socket={host.SocketPath}");
        Assert.NotEqual(0, missing.ExitCode);
    }
}

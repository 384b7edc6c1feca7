namespace PCache.Nbd.Tests;

/// <summary>Precise requests through libnbd's Python binding (nbdsh), with libnbd's own checks off where the server's are tested.</summary>
public sealed class NbdshTests
{
    /// <summary>nbd.md §2.12: every malformed request gets the expected errno, and the connection stays usable.</summary>
    private const string MalformedScript = """
        import errno
        h = nbd.NBD()
        h.add_meta_context("base:allocation")
        h.connect_uri(uri)
        h.set_strict_mode(0)
        size = h.get_size()
        failures = []
        def expect(name, want, f):
            try:
                f()
            except nbd.Error as e:
                if e.errno != errno.errorcode[want]:   # libnbd reports the errno's name
                    failures.append(f"{name}: got {e.errno} ({e.string}), wanted {want}")
                return
            failures.append(f"{name}: succeeded, wanted errno {want}")
        bs = lambda *a: 0
        expect("read past end", errno.EINVAL, lambda: h.pread(4096, size))
        expect("read partly past end", errno.EINVAL, lambda: h.pread(8192, size - 4096))
        expect("write past end", errno.ENOSPC, lambda: h.pwrite(b"x" * 4096, size))
        expect("write partly past end", errno.ENOSPC, lambda: h.pwrite(b"x" * 8192, size - 4096))
        expect("zero past end", errno.ENOSPC, lambda: h.zero(4096, size))
        expect("trim past end", errno.EINVAL, lambda: h.trim(4096, size))
        expect("cache past end", errno.EINVAL, lambda: h.cache(4096, size))
        expect("block status past end", errno.EINVAL, lambda: h.block_status(4096, size, bs))
        expect("offset overflow", errno.EINVAL, lambda: h.pread(4096, (1 << 64) - 512))
        expect("unknown flag on read", errno.EINVAL, lambda: h.pread(4096, 0, 0x100))
        expect("NO_HOLE on write", errno.EINVAL, lambda: h.pwrite(b"x" * 4096, 0, nbd.CMD_FLAG_NO_HOLE))
        expect("REQ_ONE on read", errno.EINVAL, lambda: h.pread(4096, 0, nbd.CMD_FLAG_REQ_ONE))
        expect("misaligned read offset", errno.EINVAL, lambda: h.pread(4096, 1))
        expect("misaligned read length", errno.EINVAL, lambda: h.pread(100, 0))
        expect("misaligned write", errno.EINVAL, lambda: h.pwrite(b"x" * 100, 0))
        expect("misaligned trim", errno.EINVAL, lambda: h.trim(100, 0))
        expect("misaligned zero", errno.EINVAL, lambda: h.zero(4096, 7))
        expect("zero-length read", errno.EINVAL, lambda: h.pread(0, 0))
        expect("zero-length write", errno.EINVAL, lambda: h.pwrite(b"", 0))
        expect("zero-length trim", errno.EINVAL, lambda: h.trim(0, 0))
        expect("oversized read", errno.EOVERFLOW, lambda: h.pread((32 << 20) + 4096, 0))
        expect("oversized write", errno.EINVAL, lambda: h.pwrite(bytes((32 << 20) + 4096), 0))
        # after all that the stream is still in sync
        h.pwrite(b"\xab" * 4096, 0)
        assert h.pread(4096, 0) == b"\xab" * 4096
        assert not failures, "\n".join(failures)
        print("malformed requests OK")
        """;

    [Fact]
    public void MalformedRequestsGetTheExpectedErrno()
    {
        using var host = new DaemonExport();
        var run = Tools.NbdshWithUri(host.Uri, MalformedScript);
        Assert.True(run.ExitCode == 0 && run.Stdout.Contains("malformed requests OK"), run.ToString());
    }

    [Fact]
    public void WritesToAReadOnlyExportGetEperm()
    {
        using var server = new InProcessServer(null, new MemoryExport("pcache0", 1 << 20) { ReadOnly = true });
        var run = Tools.NbdshWithUri($"nbd+unix:///pcache0?socket={server.SocketPath}", """
            import errno
            h = nbd.NBD()
            h.connect_uri(uri)
            h.set_strict_mode(0)
            assert h.is_read_only()
            assert not h.can_trim() and not h.can_zero()
            for name, f in [("write", lambda: h.pwrite(b"x" * 4096, 0)), ("trim", lambda: h.trim(4096, 0)),
                            ("zero", lambda: h.zero(4096, 0))]:
                try:
                    f()
                    raise AssertionError(name + " succeeded")
                except nbd.Error as e:
                    assert e.errno == "EPERM", (name, e.errno, e.string)
            assert h.pread(4096, 0) == bytes(4096)
            h.flush()
            print("read-only OK")
            """);
        Assert.True(run.ExitCode == 0 && run.Stdout.Contains("read-only OK"), run.ToString());
    }

    [Fact]
    public void AsyncQueue256DeepCompletesWithCorrectData()
    {
        using var host = new DaemonExport();
        var run = Tools.NbdshWithUri(host.Uri, """
            h = nbd.NBD()
            h.connect_uri(uri)
            n = 256
            wbufs = [nbd.Buffer.from_bytearray(bytearray([i % 251 + 1]) * 4096) for i in range(n)]
            cookies = [h.aio_pwrite(wbufs[i], i * 8192) for i in range(n)]
            assert h.aio_in_flight() > 0
            while h.aio_in_flight() > 0:
                h.poll(-1)
            for c in cookies:
                assert h.aio_command_completed(c)
            rbufs = [nbd.Buffer(4096) for i in range(n)]
            cookies = [h.aio_pread(rbufs[i], i * 8192) for i in range(n)]
            while h.aio_in_flight() > 0:
                h.poll(-1)
            for i, c in enumerate(cookies):
                assert h.aio_command_completed(c)
                assert rbufs[i].to_bytearray() == bytearray([i % 251 + 1]) * 4096, i
            print("aio 256-deep write/read OK")
            """);
        Assert.True(run.ExitCode == 0 && run.Stdout.Contains("aio 256-deep write/read OK"), run.ToString());
    }

    [Fact]
    public void MultiConnFlushAndFuaAreVisibleOnOtherConnections()
    {
        using var host = new DaemonExport();
        var run = Tools.NbdshWithUri(host.Uri, """
            import os
            a = nbd.NBD(); a.connect_uri(uri)
            b = nbd.NBD(); b.connect_uri(uri)
            assert a.can_multi_conn() and b.can_multi_conn()
            for i in range(100):
                off = (i % 64) * 65536
                d = os.urandom(65536)
                a.pwrite(d, off)
                a.flush()
                assert b.pread(65536, off) == d, ("flush", i)
                d = os.urandom(65536)
                b.pwrite(d, off, nbd.CMD_FLAG_FUA)
                assert a.pread(65536, off) == d, ("fua", i)
            print("multi-conn consistency OK")
            """);
        Assert.True(run.ExitCode == 0 && run.Stdout.Contains("multi-conn consistency OK"), run.ToString());
    }
}

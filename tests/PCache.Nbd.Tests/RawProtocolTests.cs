using System.Buffers.Binary;
using System.Text;

namespace PCache.Nbd.Tests;

/// <summary>Byte-level probes of the handshake and transmission phases (nbd.md §5.3), against an in-process server.</summary>
public sealed class RawProtocolTests
{
    private const uint Ack = 1, RepServer = 2, RepInfo = 3, RepMetaContext = 4;
    private const uint ErrUnsup = 0x80000001, ErrPolicy = 0x80000002, ErrInvalid = 0x80000003,
        ErrUnknown = 0x80000006, ErrShutdown = 0x80000007, ErrTooBig = 0x80000009;
    private const ushort Read = 0, Write = 1, Disc = 2, Flush = 3, BlockStatus = 7;

    [Fact]
    public void BadRequestMagicDisconnects()
    {
        using var server = new InProcessServer();
        using var client = server.Connect();
        client.Go("pcache0");
        client.SendRequest(Read, 1, 0, 4096, magic: 0x12345678);
        Assert.True(client.IsClosedByServer());
    }

    [Fact]
    public void UnknownOptionGetsErrUnsupAndTheNextOptionStillWorks()
    {
        using var server = new InProcessServer();
        using var client = server.Connect();
        client.SendOption(99, Encoding.ASCII.GetBytes("junk data"));
        var reply = client.ReadOptionReply();
        Assert.Equal((99u, ErrUnsup), (reply.Option, reply.Type));

        client.SendOption(3, []);   // LIST
        var list = client.ReadOptionReplies();
        Assert.Equal(RepServer, list[0].Type);
        Assert.Equal(Ack, list[^1].Type);
        client.Go("pcache0");
    }

    [Theory]
    [InlineData(1u, 134)]
    [InlineData(3u, 10)]
    public void ExportNameSendsSizeFlagsAndZeroesUnlessNoZeroes(uint clientFlags, int expectedBytes)
    {
        using var server = new InProcessServer();
        using var client = new RawClient(server.SocketPath, clientFlags);
        client.SendOption(1, Encoding.UTF8.GetBytes("pcache0"));
        var answer = client.Receive(expectedBytes);
        Assert.Equal(16UL << 20, BinaryPrimitives.ReadUInt64BigEndian(answer));
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(8));
        Assert.Equal(0x0d6d, flags);   // no structured replies: everything but DF, with fast-zero and multi-conn
        Assert.All(answer.Skip(10), b => Assert.Equal(0, b));
        Assert.Equal(0, client.Available(TimeSpan.FromMilliseconds(100)));

        // Transmission works right away, with simple replies.
        client.SendRequest(Write, 7, 4096, 512, payload: Enumerable.Repeat((byte)0x5a, 512).ToArray());
        Assert.Equal((-1, 7UL, 0u), Pick(client.ReadReply()));
        client.SendRequest(Read, 8, 4096, 512);
        var read = client.ReadReply(simpleReadLength: 512);
        Assert.Equal((-1, 8UL, 0u), Pick(read));
        Assert.All(read.Payload, b => Assert.Equal(0x5a, b));
    }

    [Fact]
    public void ExportNameForAnUnknownExportDisconnects()
    {
        using var server = new InProcessServer();
        using var client = server.Connect();
        client.SendOption(1, Encoding.UTF8.GetBytes("nope"));
        Assert.True(client.IsClosedByServer());
    }

    [Fact]
    public void OversizedWriteIsRejectedAndItsPayloadDrained()
    {
        using var server = new InProcessServer();
        using var client = server.Connect();
        client.Go("pcache0");
        var big = new byte[(32 << 20) + 4096];
        client.SendRequest(Write, 1, 0, (uint)big.Length, payload: big);
        Assert.Equal((-1, 1UL, 22u), Pick(client.ReadReply()));   // EINVAL
        // Past the end: ENOSPC, payload drained too.
        client.SendRequest(Write, 2, (16 << 20) - 4096, 8192, payload: new byte[8192]);
        Assert.Equal((-1, 2UL, 28u), Pick(client.ReadReply()));
        // The stream is still in sync.
        client.SendRequest(Read, 3, 0, 4096);
        var reply = client.ReadReply();
        Assert.Equal((1, 3UL, 0u), Pick(reply));
        Assert.Equal(8 + 4096, reply.Payload.Length);
    }

    [Fact]
    public void OversizedReadGetsEoverflowAsAnErrorChunk()
    {
        using var server = new InProcessServer();
        using var client = server.Connect();
        client.Go("pcache0");
        client.SendRequest(Read, 5, 0, (32 << 20) + 512);
        var reply = client.ReadReply();
        Assert.Equal((0x8001, 5UL, 75u), Pick(reply));
        Assert.Equal(1, reply.Flags);   // DONE
    }

    [Fact]
    public void OptionCountIsLimited()
    {
        using var server = new InProcessServer(new NbdServerOptions { MaxOptionsPerConnection = 4 });
        using var client = server.Connect();
        for (int i = 0; i < 4; i++)
        {
            client.SendOption(3, []);
            Assert.Equal(Ack, client.ReadOptionReplies()[^1].Type);
        }
        client.SendOption(3, []);
        Assert.Equal(ErrPolicy, client.ReadOptionReply().Type);
        Assert.True(client.IsClosedByServer());
    }

    [Fact]
    public void OptionSizeIsLimited()
    {
        using var server = new InProcessServer(new NbdServerOptions { MaxOptionLength = 1024 });
        using var client = server.Connect();
        client.SendOption(6, new byte[1024 + 1]);
        Assert.Equal(ErrTooBig, client.ReadOptionReply().Type);
        Assert.True(client.IsClosedByServer());

        // A huge announced length is refused before any of it is read.
        using var other = server.Connect();
        other.SendOption(7, [], length: uint.MaxValue);
        Assert.Equal(ErrTooBig, other.ReadOptionReply().Type);
        Assert.True(other.IsClosedByServer());
    }

    [Fact]
    public void HandshakeErrorsAreProper()
    {
        using var server = new InProcessServer();
        using var client = server.Connect();

        client.SendOption(5, []);   // STARTTLS
        Assert.Equal(ErrPolicy, client.ReadOptionReply().Type);
        client.SendOption(11, []);  // EXTENDED_HEADERS
        Assert.Equal(ErrUnsup, client.ReadOptionReply().Type);
        client.SendOption(10, RawClient.MetaRequest("pcache0", "base:allocation"));   // SET_META before SR
        Assert.Equal(ErrInvalid, client.ReadOptionReply().Type);
        client.SendOption(6, [0, 0, 0, 200, 1, 2]);   // name length beyond the data
        Assert.Equal(ErrInvalid, client.ReadOptionReply().Type);
        client.SendOption(3, [1]);   // LIST with data
        Assert.Equal(ErrInvalid, client.ReadOptionReply().Type);

        client.SendOption(6, RawClient.InfoRequest("nope"));
        var unknown = client.ReadOptionReply();
        Assert.Equal(ErrUnknown, unknown.Type);
        var message = Encoding.UTF8.GetString(unknown.Payload);
        Assert.Contains("'nope' not found", message);
        Assert.Contains("pcache0", message);

        client.SendOption(2, []);   // ABORT
        Assert.Equal(Ack, client.ReadOptionReply().Type);
        Assert.True(client.IsClosedByServer());
    }

    [Fact]
    public void InfoReportsExportNameDescriptionAndBlockSizes()
    {
        using var server = new InProcessServer();
        using var client = server.Connect();
        client.SendOption(8, []);
        Assert.Equal(Ack, client.ReadOptionReply().Type);
        client.SendOption(6, RawClient.InfoRequest("pcache0", 1, 2, 3));
        var replies = client.ReadOptionReplies();
        Assert.Equal(Ack, replies[^1].Type);
        var infos = replies.Where(r => r.Type == RepInfo).ToDictionary(r => BinaryPrimitives.ReadUInt16BigEndian(r.Payload), r => r.Payload[2..]);
        Assert.Equal(16UL << 20, BinaryPrimitives.ReadUInt64BigEndian(infos[0]));
        Assert.Equal(0x0ded, BinaryPrimitives.ReadUInt16BigEndian(infos[0].AsSpan(8)));
        Assert.Equal("pcache0", Encoding.UTF8.GetString(infos[1]));
        Assert.Equal("memory:pcache0", Encoding.UTF8.GetString(infos[2]));
        Assert.Equal([512u, 4096u, 32u << 20], new[] { 0, 4, 8 }.Select(o => BinaryPrimitives.ReadUInt32BigEndian(infos[3].AsSpan(o))));

        client.SendOption(3, []);
        var server0 = client.ReadOptionReplies()[0].Payload;
        Assert.Equal(7u, BinaryPrimitives.ReadUInt32BigEndian(server0));
        Assert.Equal("pcache0memory:pcache0", Encoding.UTF8.GetString(server0.AsSpan(4)));

        client.SendOption(9, RawClient.MetaRequest("pcache0"));   // LIST_META, no query: everything
        var meta = client.ReadOptionReplies();
        Assert.Equal(RepMetaContext, meta[0].Type);
        Assert.Equal("base:allocation", Encoding.UTF8.GetString(meta[0].Payload.AsSpan(4)));
    }

    [Theory]
    [InlineData(0x80u)]
    [InlineData(0x4u)]
    public void UnknownClientFlagsDisconnect(uint flags)
    {
        using var server = new InProcessServer();
        using var client = new RawClient(server.SocketPath, flags);
        Assert.True(client.IsClosedByServer());
    }

    [Fact]
    public void BadOptionMagicDisconnects()
    {
        using var server = new InProcessServer();
        using var client = server.Connect();
        client.SendOption(3, [], magic: 0x1122334455667788);
        Assert.True(client.IsClosedByServer());
    }

    [Fact]
    public void StructuredRepliesCarryDataErrorsAndBlockStatus()
    {
        using var server = new InProcessServer();
        using var client = server.Connect();
        client.Go("pcache0", baseAllocation: true);

        client.SendRequest(Read, 10, 8192, 4096, flags: 4 /* DF */);
        var data = client.ReadReply();
        Assert.Equal((1, 10UL, 0u), Pick(data));
        Assert.Equal(1, data.Flags);
        Assert.Equal(8192UL, BinaryPrimitives.ReadUInt64BigEndian(data.Payload));

        client.SendRequest(Read, 11, 16 << 20, 4096);
        var error = client.ReadReply();
        Assert.Equal((0x8001, 11UL, 22u), Pick(error));
        Assert.Equal(1, error.Flags);

        client.SendRequest(BlockStatus, 12, 0, 1 << 20, flags: 8 /* REQ_ONE */);
        var status = client.ReadReply();
        Assert.Equal((5, 12UL, 0u), Pick(status));
        Assert.Equal(12, status.Payload.Length);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(status.Payload));
        Assert.Equal(1u << 20, BinaryPrimitives.ReadUInt32BigEndian(status.Payload.AsSpan(4)));

        client.SendRequest(99, 13, 0, 0);
        Assert.Equal((-1, 13UL, 22u), Pick(client.ReadReply()));
        client.SendRequest(Flush, 14, 1, 0);
        Assert.Equal((-1, 14UL, 22u), Pick(client.ReadReply()));
    }

    [Fact]
    public void BlockStatusWithoutMetaContextIsEinval()
    {
        using var server = new InProcessServer();
        using var client = server.Connect();
        client.Go("pcache0");
        client.SendRequest(BlockStatus, 1, 0, 4096);
        Assert.Equal((-1, 1UL, 22u), Pick(client.ReadReply()));
    }

    [Fact]
    public void RepliesComeOutOfOrderWhileARequestIsBlocked()
    {
        using var server = new InProcessServer();
        using var client = server.Connect();
        client.Go("pcache0");
        server.Export.Hold.Reset();
        // One packet, so both requests are read before either runs.
        var write = new byte[28 + 4096];
        var flush = new byte[28];
        Header(write, Write, 1, 0, 4096);
        Header(flush, Flush, 2, 0, 0);
        client.Send([.. write, .. flush]);
        Assert.True(server.Export.Entered.Wait(10_000));
        Assert.Equal((-1, 2UL, 0u), Pick(client.ReadReply()));   // FLUSH overtakes the parked WRITE
        server.Export.Hold.Set();
        Assert.Equal((-1, 1UL, 0u), Pick(client.ReadReply()));
    }

    [Fact]
    public void DisconnectWaitsForInFlightReplies()
    {
        using var server = new InProcessServer();
        using var client = server.Connect();
        client.Go("pcache0");
        server.Export.Hold.Reset();
        var read = new byte[28];
        var disc = new byte[28];
        Header(read, Read, 1, 0, 4096);
        Header(disc, Disc, 2, 0, 0);
        client.Send([.. read, .. disc]);
        Assert.True(server.Export.Entered.Wait(10_000));
        server.Export.Hold.Set();
        Assert.Equal((1, 1UL, 0u), Pick(client.ReadReply()));
        Assert.True(client.IsClosedByServer());
    }

    [Fact]
    public async Task GracefulStopFinishesInFlightAndRefusesNewRequests()
    {
        using var server = new InProcessServer(new NbdServerOptions { ShutdownGracePeriod = TimeSpan.FromSeconds(30) });
        using var attached = server.Connect();
        attached.Go("pcache0");
        using var haggling = server.Connect();

        server.Export.Hold.Reset();
        attached.SendRequest(Read, 1, 0, 4096);
        Assert.True(server.Export.Entered.Wait(10_000));

        var stop = server.Server.StopAsync();
        Assert.False(File.Exists(server.SocketPath));   // no new clients from the moment stop begins

        attached.SendRequest(Write, 2, 0, 4096, payload: new byte[4096]);
        Assert.Equal((-1, 2UL, 108u), Pick(attached.ReadReply()));   // ESHUTDOWN, payload drained
        attached.SendRequest(Read, 3, 0, 4096);
        Assert.Equal((0x8001, 3UL, 108u), Pick(attached.ReadReply()));
        haggling.SendOption(3, []);
        Assert.Equal(ErrShutdown, haggling.ReadOptionReply().Type);

        server.Export.Hold.Set();
        Assert.Equal((1, 1UL, 0u), Pick(attached.ReadReply()));   // the in-flight READ completes
        attached.SendRequest(Disc, 4, 0, 0);
        Assert.True(attached.IsClosedByServer());
        haggling.SendOption(2, []);
        Assert.Equal(Ack, haggling.ReadOptionReply().Type);

        await stop.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, server.Server.ConnectionCount);
    }

    [Fact]
    public async Task StopClosesIdleClientsAfterTheGracePeriod()
    {
        using var server = new InProcessServer(new NbdServerOptions { ShutdownGracePeriod = TimeSpan.FromMilliseconds(100) });
        using var client = server.Connect();
        client.Go("pcache0");
        await server.Server.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(client.IsClosedByServer());
    }

    [Fact]
    public async Task StaleSocketFileIsReplacedAndALiveOneIsNot()
    {
        var dir = Directory.CreateTempSubdirectory("pcache-nbd-stale-").FullName;
        var path = Path.Combine(dir, "nbd.sock");
        try
        {
            // A socket file nobody listens on, as a crashed server leaves it (.NET would delete its own on dispose).
            Tools.Check("/usr/bin/python3", "-c", $"import socket; socket.socket(socket.AF_UNIX).bind('{path}')");
            Assert.True(File.Exists(path));

            var catalog = new ExportCatalog(new MemoryExport("pcache0", 1 << 20));
            using var first = new NbdServer(catalog, new NbdServerOptions { UnixSocketPath = path });
            first.Start();
            using (var client = new RawClient(path))
                client.Go("pcache0");

            using var second = new NbdServer(catalog, new NbdServerOptions { UnixSocketPath = path });
            Assert.Throws<IOException>(second.Start);

            await first.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.False(File.Exists(path));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task DisconnectExportClosesOnlyThatExportsClients()
    {
        using var server = new InProcessServer(new NbdServerOptions { ShutdownGracePeriod = TimeSpan.FromMilliseconds(50) },
            new MemoryExport("pcache0", 1 << 20), new MemoryExport("pcache1", 1 << 20));
        using var zero = server.Connect();
        zero.Go("pcache0");
        using var one = server.Connect();
        one.Go("pcache1");
        await server.Server.DisconnectExportAsync("pcache0").WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(zero.IsClosedByServer());
        one.SendRequest(Read, 1, 0, 512);
        Assert.Equal((1, 1UL, 0u), Pick(one.ReadReply()));
    }

    [Fact]
    public void SilentClientsAreDroppedAfterTheHandshakeTimeout()
    {
        using var server = new InProcessServer(new NbdServerOptions { HandshakeTimeout = TimeSpan.FromMilliseconds(200) });
        using var client = server.Connect();
        Assert.True(client.IsClosedByServer());
    }

    [Fact]
    public void GarbageNeverHurtsTheServerOrOtherClients()
    {
        using var server = new InProcessServer();
        using var healthy = server.Connect();
        healthy.Go("pcache0");
        var rng = new Random(1234);
        for (int i = 0; i < 40; i++)
        {
            var garbage = new byte[rng.Next(1, 4096)];
            rng.NextBytes(garbage);
            using var client = server.Connect();
            if (i % 2 == 1)
            {
                // After a valid handshake: random requests behind a valid magic.
                client.Go("pcache0");
                if (garbage.Length >= 4)
                    BinaryPrimitives.WriteUInt32BigEndian(garbage, RawClient.RequestMagic);
            }
            try
            {
                client.Send(garbage);
                client.Available(TimeSpan.FromMilliseconds(10));
            }
            catch (System.Net.Sockets.SocketException)
            {
                // the server may hang up mid-send: fine
            }
        }
        healthy.SendRequest(Write, 1, 0, 4096, payload: Enumerable.Repeat((byte)7, 4096).ToArray());
        Assert.Equal((-1, 1UL, 0u), Pick(healthy.ReadReply()));
        healthy.SendRequest(Read, 2, 0, 4096);
        var read = healthy.ReadReply();
        Assert.Equal((1, 2UL, 0u), Pick(read));
        Assert.All(read.Payload.Skip(8), b => Assert.Equal(7, b));
    }

    private static (int, ulong, uint) Pick((int ChunkType, ushort Flags, ulong Cookie, uint Error, byte[] Payload) reply) =>
        (reply.ChunkType, reply.Cookie, reply.Error);

    private static void Header(byte[] buffer, ushort type, ulong cookie, ulong offset, uint length)
    {
        BinaryPrimitives.WriteUInt32BigEndian(buffer, RawClient.RequestMagic);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(6), type);
        BinaryPrimitives.WriteUInt64BigEndian(buffer.AsSpan(8), cookie);
        BinaryPrimitives.WriteUInt64BigEndian(buffer.AsSpan(16), offset);
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(24), length);
    }
}

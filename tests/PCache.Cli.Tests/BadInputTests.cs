using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace PCache.Cli.Tests;

/// <summary>One daemon with a running backing, shared by the bad-input tests; each test checks it still serves.</summary>
public sealed class BadInputDaemon : IDisposable
{
    internal Sandbox Box { get; } = new();

    internal TestDaemon Daemon { get; }

    public BadInputDaemon()
    {
        Daemon = new TestDaemon(Box);
        Daemon.Json("cache-start", "--path", Box.PmemPath(), "--size", "1G", "--format", "--force");
        Daemon.Json("backing-start", "--path", Box.SparseFile("b.img", 64 << 20), "--cache-size", SeedExampleTests.SmallCache);
    }

    public void Dispose()
    {
        Daemon.Dispose();
        Box.Dispose();
    }
}

/// <summary>
/// Bad input of every kind on the control socket gets an error line or a closed connection, and
/// the daemon keeps serving a normal request afterwards.
/// </summary>
public sealed class BadInputTests(BadInputDaemon fixture) : IClassFixture<BadInputDaemon>
{
    private const string Ping = """{"v":1,"verb":"ping"}""";

    private TestDaemon Daemon => fixture.Daemon;

    private string Socket => fixture.Box.SocketPath;

    [Fact]
    public void MalformedJsonGetsInvalidRequestAndTheConnectionGoesOn()
    {
        using var c = new RawControl(Socket);
        foreach (var line in new[] { "{", "{\"v\":1,\"verb\":", "not json", "{\"v\":1,\"verb\":\"ping\",}", "{'v':1}", "\u00ff\u00fe", "{\"v\":1,\"verb\":\"ping\"} trailing" })
        {
            var answer = c.Request(line);
            Assert.Equal("invalid_request", RawControl.ErrorCode(answer));
        }
        Assert.True(c.Request(Ping).GetProperty("ok").GetBoolean());
        AssertHealthy();
    }

    [Fact]
    public void RandomByteLinesEachGetAnError()
    {
        var rng = new Random(1234);
        using var c = new RawControl(Socket);
        for (int i = 0; i < 300; i++)
        {
            var line = new byte[rng.Next(1, 400)];
            rng.NextBytes(line);
            for (int j = 0; j < line.Length; j++)
                if (line[j] == (byte)'\n') line[j] = 0;
            line[0] = 0xff; // never a blank line, which would be skipped without an answer
            c.Send([.. line, (byte)'\n']);
            string? answer = c.ReadLine();
            Assert.NotNull(answer);
            Assert.Equal("invalid_request", RawControl.ErrorCode(JsonDocument.Parse(answer).RootElement));
        }
        AssertHealthy();
    }

    [Theory]
    [InlineData("""{"v":1,"verb":"format-everything"}""", "unknown_verb")]
    [InlineData("""{"v":1,"verb":""}""", "unknown_verb")]
    [InlineData("""{"v":2,"verb":"ping"}""", "unsupported_version")]
    [InlineData("""{"v":999999,"verb":"ping","args":{"new_field":1}}""", "unsupported_version")]
    [InlineData("""{"verb":"ping"}""", "invalid_request")]
    [InlineData("""{"v":1}""", "invalid_request")]
    [InlineData("""{"v":"1","verb":"ping"}""", "invalid_request")]
    [InlineData("""{"v":1.5,"verb":"ping"}""", "invalid_request")]
    [InlineData("""{"v":1,"verb":5}""", "invalid_request")]
    [InlineData("""{"v":1,"verb":"ping","id":7}""", "invalid_request")]
    [InlineData("""{"v":1,"verb":"ping","extra":true}""", "invalid_request")]
    [InlineData("""[1,2,3]""", "invalid_request")]
    [InlineData("\"ping\"", "invalid_request")]
    [InlineData("42", "invalid_request")]
    [InlineData("null", "invalid_request")]
    [InlineData("""{"v":1,"verb":"ping","args":{"x":1}}""", "invalid_argument")]
    [InlineData("""{"v":1,"verb":"backing-list","args":[1]}""", "invalid_argument")]
    [InlineData("""{"v":1,"verb":"cache-stop","args":{"cache_id":"zero"}}""", "invalid_argument")]
    [InlineData("""{"v":1,"verb":"cache-stop","args":{}}""", "invalid_argument")]
    [InlineData("""{"v":1,"verb":"cache-stop"}""", "invalid_argument")]
    [InlineData("""{"v":1,"verb":"backing-start","args":{"cache_size":1048576}}""", "invalid_argument")]
    [InlineData("""{"v":1,"verb":"backing-start","args":{"path":"/x","cache_size":1.5}}""", "invalid_argument")]
    [InlineData("""{"v":1,"verb":"backing-start","args":{"path":"/x","cache_size":-5}}""", "invalid_argument")]
    [InlineData("""{"v":1,"verb":"backing-start","args":{"path":"/x","cache_size":99999999999999999999999}}""", "invalid_argument")]
    [InlineData("""{"v":1,"verb":"backing-set","args":{"backing_id":0,"gc_percent":91}}""", "invalid_argument")]
    [InlineData("""{"v":1,"verb":"backing-set","args":{"backing_id":0,"gc_percent":true}}""", "invalid_argument")]
    [InlineData("""{"v":1,"verb":"backing-stop","args":{"backing_id":4000}}""", "not_found")]
    [InlineData("""{"v":1,"verb":"stat","args":{"backing_id":-1}}""", "not_found")]
    [InlineData("""{"v":1,"verb":"cache-start","args":{"path":""}}""", "invalid_argument")]
    [InlineData("""{"v":1,"verb":"cache-start","args":{"path":"/dev/shm","format":true}}""", "invalid_argument")]
    public void WrongShapesTypesAndValuesGetTheirErrorCode(string line, string code)
    {
        using (var c = new RawControl(Socket))
        {
            var answer = c.Request(line);
            Assert.Equal(code, RawControl.ErrorCode(answer));
            // backing-stop is the last request on its connection; every other verb goes on.
            if (!line.Contains("backing-stop")) Assert.True(c.Request(Ping).GetProperty("ok").GetBoolean());
        }
        AssertHealthy();
    }

    [Fact]
    public void TheIdIsEchoedAndErrorsNameTheirField()
    {
        using var c = new RawControl(Socket);
        var ok = c.Request("""{"v":1,"id":"abc","verb":"ping"}""");
        Assert.Equal("abc", ok.GetProperty("id").GetString());
        var missing = c.Request("""{"v":1,"id":"m","verb":"backing-start","args":{"cache_size":1}}""");
        Assert.Equal("m", missing.GetProperty("id").GetString());
        Assert.Contains("args.path", missing.GetProperty("error").GetProperty("message").GetString());
        var wrong = c.Request("""{"v":1,"verb":"cache-stop","args":{"cache_id":"zero"}}""");
        Assert.Contains("args.cache_id must be an integer", wrong.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public void DeepNestingIsRefused()
    {
        using var c = new RawControl(Socket);
        string deep = new string('[', 5000) + new string(']', 5000);
        Assert.Equal("invalid_request", RawControl.ErrorCode(c.Request("{\"v\":1,\"verb\":\"ping\",\"args\":{\"a\":" + deep + "}}")));
        AssertHealthy();
    }

    [Fact]
    public void BlankLinesArePassedOverAndPipelinedRequestsAreAnsweredInOrder()
    {
        using var c = new RawControl(Socket);
        c.Send("\n\r\n   \n" + """{"v":1,"id":"1","verb":"ping"}""" + "\n" + """{"v":1,"id":"2","verb":"cache-list"}""" + "\n");
        Assert.Equal("1", JsonDocument.Parse(c.ReadLine()!).RootElement.GetProperty("id").GetString());
        Assert.Equal("2", JsonDocument.Parse(c.ReadLine()!).RootElement.GetProperty("id").GetString());
    }

    [Fact]
    public async Task AnOversizedLineGetsAnErrorAndIsClosed()
    {
        using var c = new RawControl(Socket);
        var sender = Task.Run(() =>
        {
            var chunk = Encoding.ASCII.GetBytes(new string('x', 1 << 20));
            try
            {
                for (int i = 0; i < 10; i++) c.Send(chunk); // 10 MiB, no newline
            }
            catch (SocketException)
            {
                // the daemon stopped reading and closed: expected
            }
        });
        string? answer = c.ReadLine();
        if (answer is not null)
        {
            Assert.Equal("invalid_request", RawControl.ErrorCode(JsonDocument.Parse(answer).RootElement));
            Assert.Contains("longer than", answer);
            Assert.Null(c.ReadLine()); // and then closed
        }
        await sender;
        AssertHealthy();
    }

    [Fact]
    public async Task AThousandConcurrentConnectionsGetAnswersOrAreClosed()
    {
        var request = Encoding.ASCII.GetBytes(Ping + "\n");
        var clients = Enumerable.Range(0, 1000).Select(async _ =>
        {
            using var s = new System.Net.Sockets.Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await s.ConnectAsync(new UnixDomainSocketEndPoint(Socket));
                await s.SendAsync(request);
                var buffer = new byte[8192];
                int total = 0;
                while (total < buffer.Length)
                {
                    int n = await s.ReceiveAsync(buffer.AsMemory(total));
                    if (n == 0) break;
                    total += n;
                    if (buffer.AsSpan(0, total).Contains((byte)'\n')) break;
                }
                if (total == 0) return "closed";
                var answer = JsonDocument.Parse(buffer.AsMemory(0, Array.IndexOf(buffer, (byte)'\n', 0, total))).RootElement;
                return answer.GetProperty("ok").GetBoolean() ? "ok" : answer.GetProperty("error").GetProperty("code").GetString()!;
            }
            catch (SocketException)
            {
                return "refused";
            }
        }).ToArray();
        var results = await Task.WhenAll(clients).WaitAsync(TimeSpan.FromMinutes(2)); // a hang guard: some were never answered nor closed
        var outcomes = results.GroupBy(r => r).ToDictionary(g => g.Key, g => g.Count());
        Assert.True(outcomes.GetValueOrDefault("ok") > 0, string.Join(", ", outcomes));
        Assert.All(outcomes.Keys, k => Assert.Contains(k, new[] { "ok", "closed", "refused" }));
        AssertHealthy();
    }

    [Fact]
    public void ClientsThatVanishMidRequestDoNotHurt()
    {
        for (int i = 0; i < 50; i++)
        {
            using (var c = new RawControl(Socket)) c.Send("{\"v\":1,\"verb\":\"back");             // half a request
            using (var c = new RawControl(Socket)) c.Send(Ping + "\n");                          // never reads its answer
            using (var c = new RawControl(Socket)) c.Send("""{"v":1,"verb":"backing-stop","args":{"backing_id":63}}""" + "\n");
            using (var c = new RawControl(Socket))
            {
                c.Socket.LingerState = new LingerOption(true, 0);
                c.Send(new byte[] { 0x7b, 0x00, 0xff });
            }
        }
        AssertHealthy();
    }

    [Fact]
    public void HalfClosedClientsGetTheirAnswerThenEndOfStream()
    {
        using (var c = new RawControl(Socket))
        {
            c.Send(Ping + "\n");
            c.Socket.Shutdown(SocketShutdown.Send);
            Assert.True(JsonDocument.Parse(c.ReadLine()!).RootElement.GetProperty("ok").GetBoolean());
            Assert.Null(c.ReadLine());
        }
        using (var c = new RawControl(Socket))
        {
            c.Send(Ping); // no newline: the end of input ends the line
            c.Socket.Shutdown(SocketShutdown.Send);
            Assert.True(JsonDocument.Parse(c.ReadLine()!).RootElement.GetProperty("ok").GetBoolean());
            Assert.Null(c.ReadLine());
        }
        using (var c = new RawControl(Socket))
        {
            c.Socket.Shutdown(SocketShutdown.Send);
            Assert.Null(c.ReadLine());
        }
        AssertHealthy();
    }

    [Fact]
    public void SilentAndSlowClientsDoNotBlockOthers()
    {
        using var silent = new RawControl(Socket);
        using var slow = new RawControl(Socket);
        foreach (char ch in "{\"v\":1,") slow.Send(ch.ToString()); // a request trickling in, unfinished
        for (int i = 0; i < 5; i++) AssertHealthy();
        foreach (char ch in "\"verb\":\"ping\"}\n") slow.Send(ch.ToString());
        Assert.True(JsonDocument.Parse(slow.ReadLine()!).RootElement.GetProperty("ok").GetBoolean());
    }

    private void AssertHealthy()
    {
        Assert.False(Daemon.HasExited, $"the daemon died:\n{Daemon.Log}");
        var b = Daemon.Backings();
        Assert.Equal("running", Assert.Single(b).State);
    }
}

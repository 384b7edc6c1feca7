using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using PCache.Client;
using PCache.Daemon.Glue;

namespace PCache.Daemon.Control;

/// <summary>What a running request may use: its cancellation (client gone, daemon stopping) and a progress sink.</summary>
internal sealed record RequestContext(CancellationToken Cancel, ProgressSink Progress);

/// <summary>
/// The verbs of the control protocol and their handlers. A verb marked long (backing-stop) runs
/// with hang-up detection and progress lines; every other verb answers promptly.
/// </summary>
internal sealed class RequestDispatcher
{
    public sealed record Verb(string Name, bool Long, Func<JsonElement, RequestContext, Task<Reply>> Run);

    private readonly Dictionary<string, Verb> _verbs = new(StringComparer.Ordinal);

    public RequestDispatcher(CacheHost host, Func<DaemonStatus> status)
    {
        Add(ControlProtocol.Verbs.Ping, false, (a, _) =>
        {
            Parse(a, ControlJsonContext.Default.NoArgs);
            return Task.FromResult(Reply.Ok(status(), ControlJsonContext.Default.DaemonStatus));
        });
        Add(ControlProtocol.Verbs.CacheStart, false, async (a, c) =>
            Reply.Ok(await host.StartCacheAsync(Parse(a, ControlJsonContext.Default.CacheStartArgs), c.Cancel), ControlJsonContext.Default.CacheStartResult));
        Add(ControlProtocol.Verbs.CacheStop, false, async (a, c) =>
            Reply.Ok(await host.StopCacheAsync(Parse(a, ControlJsonContext.Default.CacheStopArgs).CacheId, c.Cancel), ControlJsonContext.Default.CacheStopResult));
        Add(ControlProtocol.Verbs.CacheList, false, (a, _) =>
        {
            Parse(a, ControlJsonContext.Default.NoArgs);
            return Task.FromResult(Reply.Ok(host.ListCaches(), ControlJsonContext.Default.ListCacheEntry));
        });
        Add(ControlProtocol.Verbs.BackingStart, false, async (a, c) =>
            Reply.Ok(await host.StartBackingAsync(Parse(a, ControlJsonContext.Default.BackingStartArgs), c.Cancel), ControlJsonContext.Default.BackingEntry));
        Add(ControlProtocol.Verbs.BackingStop, true, async (a, c) =>
            Reply.Ok(await host.StopBackingAsync(Parse(a, ControlJsonContext.Default.BackingStopArgs), c.Progress, c.Cancel), ControlJsonContext.Default.BackingStopResult));
        Add(ControlProtocol.Verbs.BackingList, false, (a, _) =>
            Task.FromResult(Reply.Ok(host.ListBackings(Parse(a, ControlJsonContext.Default.BackingListArgs).CacheId), ControlJsonContext.Default.ListBackingEntry)));
        Add(ControlProtocol.Verbs.BackingSet, false, async (a, c) =>
            Reply.Ok(await host.SetBackingAsync(Parse(a, ControlJsonContext.Default.BackingSetArgs), c.Cancel), ControlJsonContext.Default.BackingEntry));
        Add(ControlProtocol.Verbs.Stat, false, (a, _) =>
        {
            var args = Parse(a, ControlJsonContext.Default.StatArgs);
            return Task.FromResult(Reply.Ok(new StatResult { Daemon = status(), Backings = host.Statistics(args.BackingId, args.Reset) }, ControlJsonContext.Default.StatResult));
        });
    }

    public bool TryGet(string name, out Verb verb) => _verbs.TryGetValue(name, out verb!);

    public string Known => string.Join(", ", _verbs.Keys);

    private void Add(string name, bool isLong, Func<JsonElement, RequestContext, Task<Reply>> run) => _verbs[name] = new Verb(name, isLong, run);

    private static T Parse<T>(JsonElement args, JsonTypeInfo<T> type)
    {
        try
        {
            return args.Deserialize(type) ?? throw ControlException.Invalid("\"args\" must be an object");
        }
        catch (JsonException e)
        {
            throw ControlException.Invalid(JsonErrors.Describe(e, "args."), "args");
        }
    }
}

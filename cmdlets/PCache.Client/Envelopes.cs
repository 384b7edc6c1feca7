using System.Text.Json;
using System.Text.Json.Serialization;

namespace PCache.Client;

/// <summary>
/// A request line: {"v":1,"id":"7","verb":"backing-list","args":{...},"progress":false}.
/// "id" is optional and echoed back; "progress" asks for progress lines before the answer of a
/// long operation (backing-stop).
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed class RequestEnvelope
{
    [JsonRequired]
    public int V { get; set; }

    public string? Id { get; set; }

    [JsonRequired]
    public string Verb { get; set; } = "";

    public JsonElement? Args { get; set; }

    public bool Progress { get; set; }
}

/// <summary>
/// A line from the daemon: exactly one final answer per request — {"v":1,"id":..,"ok":true,"result":...}
/// or {"v":1,"id":..,"ok":false,"error":{"code","message","target"}} — preceded, when the request
/// asked for it, by progress lines {"v":1,"id":..,"progress":{...}} that carry no "ok".
/// </summary>
public sealed class ResponseEnvelope
{
    public int V { get; set; }

    public string? Id { get; set; }

    public bool? Ok { get; set; }

    public JsonElement? Result { get; set; }

    public ControlError? Error { get; set; }

    public JsonElement? Progress { get; set; }
}

/// <summary>The error of a failed request: a stable code (see <see cref="ErrorCodes"/>), a message for people, and what it is about.</summary>
public sealed class ControlError
{
    public string Code { get; set; } = "";

    public string Message { get; set; } = "";

    public string? Target { get; set; }
}

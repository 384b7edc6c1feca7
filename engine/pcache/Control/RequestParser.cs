using System.Text.Json;
using PCache.Client;

namespace PCache.Daemon.Control;

/// <summary>One request line, checked: a JSON object with the right version, a verb and its arguments.</summary>
internal sealed record ParsedRequest(string? Id, string Verb, JsonElement Args, bool Progress);

/// <summary>
/// Turns a line of untrusted bytes into a request or a precise error. Order matters: the version is
/// checked before the shape, so a newer client gets "unsupported_version" rather than complaints
/// about fields this daemon does not know.
/// </summary>
internal static class RequestParser
{
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 16 };
    private static readonly JsonElement EmptyArgs = JsonDocument.Parse("{}").RootElement.Clone();

    /// <summary>A request, or (with the id when one could be read) the error to answer.</summary>
    public static (ParsedRequest? Request, string? Id, Reply? Error) Parse(ReadOnlyMemory<byte> line)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line, Options);
        }
        catch (JsonException e)
        {
            return (null, null, Reply.Fail(ErrorCodes.InvalidRequest, $"the request is not valid JSON: {Clean(e.Message)}"));
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return (null, null, Reply.Fail(ErrorCodes.InvalidRequest,
                    $"a request is a JSON object such as {{\"v\":{ControlProtocol.Version},\"verb\":\"backing-list\"}}, not {Kind(root.ValueKind)}"));

            string? id = null;
            if (root.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String)
                id = idElement.GetString();
            if (!root.TryGetProperty("v", out var v))
                return (null, id, Reply.Fail(ErrorCodes.InvalidRequest, $"the request has no \"v\" (the protocol version, {ControlProtocol.Version})", "v"));
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int version))
                return (null, id, Reply.Fail(ErrorCodes.InvalidRequest, "\"v\" must be an integer protocol version", "v"));
            if (version != ControlProtocol.Version)
                return (null, id, Reply.Fail(ErrorCodes.UnsupportedVersion,
                    $"this pcache daemon speaks control protocol version {ControlProtocol.Version}; the request uses version {version}", "v"));

            RequestEnvelope envelope;
            try
            {
                envelope = root.Deserialize(ControlJsonContext.Default.RequestEnvelope)!;
            }
            catch (JsonException e)
            {
                return (null, id, Reply.Fail(ErrorCodes.InvalidRequest, $"bad request: {JsonErrors.Describe(e, "")}"));
            }
            var args = envelope.Args is { ValueKind: not JsonValueKind.Null } a ? a.Clone() : EmptyArgs;
            if (args.ValueKind != JsonValueKind.Object)
                return (null, id, Reply.Fail(ErrorCodes.InvalidArgument, $"\"args\" must be a JSON object, not {Kind(args.ValueKind)}", "args"));
            return (new ParsedRequest(id, envelope.Verb, args, envelope.Progress), id, null);
        }
    }

    private static string Kind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "that",
    };

    private static string Clean(string message)
    {
        int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd(' ', '|');
    }
}

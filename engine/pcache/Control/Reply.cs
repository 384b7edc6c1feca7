using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using PCache.Client;

namespace PCache.Daemon.Control;

/// <summary>The final answer to one request: a result with its JSON type, or an error.</summary>
internal sealed class Reply
{
    private Reply(object? value, JsonTypeInfo? type, ControlError? error)
    {
        Value = value;
        Type = type;
        Error = error;
    }

    public object? Value { get; }

    public JsonTypeInfo? Type { get; }

    public ControlError? Error { get; }

    public static Reply Ok<T>(T value, JsonTypeInfo<T> type) => new(value, type, null);

    public static Reply Fail(string code, string message, string? target = null) =>
        new(null, null, new ControlError { Code = code, Message = message, Target = target });

    public static Reply Fail(ControlException e) => Fail(e.Code, e.Message, e.Target);

    /// <summary>The response line, newline included.</summary>
    public byte[] Encode(string? id) => Line(id, w =>
    {
        if (Error is null)
        {
            w.WriteBoolean("ok", true);
            w.WritePropertyName("result");
            JsonSerializer.Serialize(w, Value, Type!);
        }
        else
        {
            w.WriteBoolean("ok", false);
            w.WritePropertyName("error");
            JsonSerializer.Serialize(w, Error, ControlJsonContext.Default.ControlError);
        }
    });

    public static byte[] Progress(string? id, DrainProgress progress) => Line(id, w =>
    {
        w.WritePropertyName("progress");
        JsonSerializer.Serialize(w, progress, ControlJsonContext.Default.DrainProgress);
    });

    private static byte[] Line(string? id, Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("v", ControlProtocol.Version);
            if (id is not null) w.WriteString("id", id);
            body(w);
            w.WriteEndObject();
        }
        var line = new byte[buffer.WrittenCount + 1];
        buffer.WrittenSpan.CopyTo(line);
        line[^1] = (byte)'\n';
        return line;
    }
}

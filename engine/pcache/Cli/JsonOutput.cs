using System.Text.Json;

namespace PCache.Daemon.Cli;

/// <summary>JSON on stdout, indented by four spaces like pcache-utils' output.</summary>
internal static class JsonOutput
{
    private static readonly Stream Stdout = Console.OpenStandardOutput();

    public static Utf8JsonWriter Writer() =>
        new(Stdout, new JsonWriterOptions { Indented = true, IndentSize = 4, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    public static void Print(JsonElement element)
    {
        using (var w = Writer()) element.WriteTo(w);
        NewLine();
    }

    public static void NewLine()
    {
        Stdout.Write("\n"u8);
        Stdout.Flush();
    }
}

using System.Text.Json;
using System.Text.RegularExpressions;

namespace PCache.Daemon.Control;

/// <summary>
/// System.Text.Json's exception messages in the protocol's words: they name .NET types and
/// internal positions; a client wants the field and what it should have been.
/// </summary>
internal static partial class JsonErrors
{
    public static string Describe(JsonException e, string prefix)
    {
        string message = e.Message;
        var missing = MissingRegex().Match(message);
        if (missing.Success)
        {
            var names = QuotedRegex().Matches(missing.Groups[1].Value).Select(m => prefix + m.Groups[1].Value);
            return $"missing required field {string.Join(", ", names)}";
        }
        var unmapped = UnmappedRegex().Match(message);
        if (unmapped.Success) return $"unknown field {prefix}{unmapped.Groups[1].Value}";
        string field = e.Path is { Length: > 1 } path ? prefix + path.TrimStart('$', '.') : prefix.TrimEnd('.');
        var convert = ConvertRegex().Match(message);
        if (convert.Success) return $"{(field.Length == 0 ? "the value" : field)} must be {Expected(convert.Groups[1].Value)}";
        return field.Length == 0 ? $"not valid: {FirstSentence(message)}" : $"{field} is not valid: {FirstSentence(message)}";
    }

    private static string Expected(string type) => type switch
    {
        _ when type.Contains("Int32") || type.Contains("Int64") => "an integer",
        _ when type.Contains("Boolean") => "true or false",
        _ when type.Contains("String") => "a string",
        _ => "an object of the documented shape",
    };

    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }

    [GeneratedRegex("missing required properties including: (.*)")]
    private static partial Regex MissingRegex();

    [GeneratedRegex("'([^']*)'")]
    private static partial Regex QuotedRegex();

    [GeneratedRegex("The JSON property '([^']*)' could not be mapped")]
    private static partial Regex UnmappedRegex();

    [GeneratedRegex("could not be converted to ([^.]+(?:\\.[A-Za-z0-9`\\[\\]]+)*)")]
    private static partial Regex ConvertRegex();
}

namespace PCache.HelpGen;

/// <summary>
/// The YAML that PlatyPS writes for a parameter, and nothing more: "key: scalar", flow lists
/// ("[]", "[a, b]"), block lists ("- a") and block lists of maps ("- Name: x" followed by
/// indented "key: value" lines). Anything else is an error, not a guess.
/// </summary>
public sealed class SimpleYaml
{
    private readonly Dictionary<string, object> _values;

    private SimpleYaml(Dictionary<string, object> values) => _values = values;

    public static SimpleYaml Parse(string text, string where)
    {
        var values = new Dictionary<string, object>(StringComparer.Ordinal);
        var lines = text.Replace("\r\n", "\n").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            if (line.Trim().Length == 0) continue;
            if (char.IsWhiteSpace(line[0]) || line.StartsWith('-'))
                throw new HelpFormatException($"{where}: unexpected yaml line '{line}'");
            var (key, value) = KeyValue(line, where);
            if (value.Length > 0)
            {
                values[key] = value.StartsWith('[') ? FlowList(value, where) : Unquote(value);
                continue;
            }
            // A block list follows: scalars, or maps whose first key is on the "- " line.
            var scalars = new List<string>();
            var maps = new List<SimpleYaml>();
            while (i + 1 < lines.Length && lines[i + 1].StartsWith("- ", StringComparison.Ordinal))
            {
                string item = lines[++i][2..];
                if (!item.Contains(": ") && !item.EndsWith(':'))
                {
                    scalars.Add(Unquote(item.Trim()));
                    continue;
                }
                var map = new Dictionary<string, object>(StringComparer.Ordinal);
                var (k, v) = KeyValue(item, where);
                map[k] = Unquote(v);
                while (i + 1 < lines.Length && lines[i + 1].StartsWith("  ", StringComparison.Ordinal))
                {
                    var (k2, v2) = KeyValue(lines[++i].Trim(), where);
                    map[k2] = v2.StartsWith('[') ? FlowList(v2, where) : Unquote(v2);
                }
                maps.Add(new SimpleYaml(map));
            }
            if (scalars.Count > 0 && maps.Count > 0) throw new HelpFormatException($"{where}: '{key}' mixes scalars and maps");
            values[key] = maps.Count > 0 ? maps : scalars;
        }
        return new SimpleYaml(values);
    }

    public string? Scalar(string key) => _values.TryGetValue(key, out var v) ? v as string : null;

    public bool Bool(string key) => Scalar(key) is { } s && s.Equals("true", StringComparison.OrdinalIgnoreCase);

    public IReadOnlyList<string> List(string key) => _values.TryGetValue(key, out var v) && v is List<string> l ? l : [];

    public IReadOnlyList<SimpleYaml> Maps(string key) => _values.TryGetValue(key, out var v) && v is List<SimpleYaml> m ? m : [];

    public IEnumerable<string> Keys => _values.Keys;

    private static (string Key, string Value) KeyValue(string line, string where)
    {
        int colon = line.IndexOf(':');
        if (colon <= 0) throw new HelpFormatException($"{where}: expected 'key: value', not '{line}'");
        return (line[..colon].Trim(), line[(colon + 1)..].Trim());
    }

    private static List<string> FlowList(string value, string where)
    {
        if (!value.EndsWith(']')) throw new HelpFormatException($"{where}: unclosed list '{value}'");
        string inner = value[1..^1].Trim();
        return inner.Length == 0 ? [] : inner.Split(',').Select(s => Unquote(s.Trim())).ToList();
    }

    private static string Unquote(string s) =>
        s.Length >= 2 && (s[0] == '\'' && s[^1] == '\'' || s[0] == '"' && s[^1] == '"') ? s[1..^1] : s;
}

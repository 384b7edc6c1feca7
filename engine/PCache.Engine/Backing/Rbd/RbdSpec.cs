using System.Text;

namespace PCache.Engine.Backing.Rbd;

/// <summary>
/// An RBD image named the way qemu names it: <c>rbd:pool/image[:conf=PATH][:id=USER][:key=value...]</c>.
/// <c>conf</c> is the ceph.conf to read (default: librados' own search), <c>id</c> the cephx user
/// without "client." (default admin); other keys are Ceph options passed to librados as they are.
/// A colon inside a value is written <c>\:</c>.
/// </summary>
public sealed record RbdSpec(string Text, string Pool, string Image, string? Conf, string? Id, IReadOnlyList<KeyValuePair<string, string>> Options)
{
    public static bool Looks(string text) => text.StartsWith("rbd:", StringComparison.Ordinal);

    /// <summary>Parse; bad input throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static RbdSpec Parse(string text)
    {
        if (!Looks(text)) throw new FormatException($"{text}: not an RBD image spec (expected rbd:pool/image[:conf=PATH][:id=USER])");
        var parts = Split(text[4..]);
        string name = parts[0];
        if (name.Contains('@')) throw new FormatException($"{text}: a snapshot is read-only and cannot be a cache's backing");
        int slash = name.IndexOf('/');
        if (slash <= 0 || slash == name.Length - 1 || name.IndexOf('/', slash + 1) >= 0)
            throw new FormatException($"{text}: expected rbd:pool/image");
        string? conf = null, id = null;
        var options = new List<KeyValuePair<string, string>>();
        foreach (var part in parts.Skip(1))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0) throw new FormatException($"{text}: option '{part}' is not key=value");
            string key = part[..eq], value = part[(eq + 1)..];
            switch (key)
            {
                case "conf": conf = value; break;
                case "id": id = value; break;
                default: options.Add(new(key, value)); break;
            }
        }
        if (conf is not null && !conf.StartsWith('/')) throw new FormatException($"{text}: conf={conf} must be an absolute path");
        return new RbdSpec(text, name[..slash], name[(slash + 1)..], conf, id, options);
    }

    private static List<string> Split(string s)
    {
        var parts = new List<string>();
        var current = new StringBuilder();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 1 < s.Length) current.Append(s[++i]);
            else if (s[i] == ':') { parts.Add(current.ToString()); current.Clear(); }
            else current.Append(s[i]);
        }
        parts.Add(current.ToString());
        return parts;
    }
}

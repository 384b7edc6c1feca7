namespace PCache.Core;

/// <summary>
/// PowerShell's wildcard language (*, ?, [abc], [a-z], backtick escapes) for -Path filters.
/// PowerShell's own WildcardPattern is a stub at test time, and the filtering is behaviour worth
/// testing, so it lives here. Paths on Linux are case-sensitive, so matching is too.
/// </summary>
public static class Wildcard
{
    public static bool HasWildcards(string pattern)
    {
        for (int i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] == '`') { i++; continue; }
            if (pattern[i] is '*' or '?' or '[') return true;
        }
        return false;
    }

    /// <summary>The pattern with its escapes removed, for patterns without wildcards.</summary>
    public static string Unescape(string pattern)
    {
        var sb = new System.Text.StringBuilder(pattern.Length);
        for (int i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] == '`' && i + 1 < pattern.Length) i++;
            sb.Append(pattern[i]);
        }
        return sb.ToString();
    }

    public static bool IsMatch(string pattern, string text) => Match(pattern, 0, text, 0);

    private static bool Match(string p, int pi, string t, int ti)
    {
        while (pi < p.Length)
        {
            char c = p[pi];
            if (c == '*')
            {
                while (pi < p.Length && p[pi] == '*') pi++;
                if (pi == p.Length) return true;
                for (int k = ti; k <= t.Length; k++)
                    if (Match(p, pi, t, k)) return true;
                return false;
            }
            if (ti >= t.Length) return false;
            if (c == '?')
            {
                pi++;
                ti++;
                continue;
            }
            if (c == '[')
            {
                int close = ClosingBracket(p, pi);
                if (close < 0) return false; // an unclosed '[' matches nothing, as in PowerShell
                if (!InSet(p, pi + 1, close, t[ti])) return false;
                pi = close + 1;
                ti++;
                continue;
            }
            if (c == '`' && pi + 1 < p.Length) c = p[++pi];
            if (c != t[ti]) return false;
            pi++;
            ti++;
        }
        return ti == t.Length;
    }

    private static int ClosingBracket(string p, int open)
    {
        for (int i = open + 1; i < p.Length; i++)
        {
            if (p[i] == '`') { i++; continue; }
            if (p[i] == ']' && i > open + 1) return i;
        }
        return -1;
    }

    private static bool InSet(string p, int from, int to, char ch)
    {
        for (int i = from; i < to; i++)
        {
            char lo = p[i];
            if (lo == '`' && i + 1 < to) lo = p[++i];
            if (i + 2 < to && p[i + 1] == '-')
            {
                char hi = p[i + 2];
                if (hi == '`' && i + 3 < to) hi = p[i + 3];
                if (ch >= lo && ch <= hi) return true;
                i += p[i + 2] == '`' ? 3 : 2;
                continue;
            }
            if (ch == lo) return true;
        }
        return false;
    }
}

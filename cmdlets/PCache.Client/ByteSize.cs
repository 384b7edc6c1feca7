using System.Globalization;

namespace PCache.Client;

/// <summary>
/// Sizes as people type them: plain bytes, or a number with K, M, G, T, P or KiB, MiB, GiB, TiB,
/// PiB (all powers of 1024, as in pcache-utils and dm tools). "KB"-style suffixes are refused
/// because half the tools read them as powers of 1000.
/// </summary>
public static class ByteSize
{
    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

    public static bool TryParse(string? text, out long bytes, out string error)
    {
        bytes = 0;
        error = "";
        string s = (text ?? "").Trim();
        if (s.Length == 0)
        {
            error = "a size is needed (bytes, or a number with K, M, G, T or KiB, MiB, GiB, TiB)";
            return false;
        }
        if (s[0] == '-')
        {
            error = $"'{text}' is negative; a size must be 0 or more";
            return false;
        }
        int i = 0;
        while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
        string number = s[..i];
        string unit = s[i..].Trim();
        int shift = unit.ToUpperInvariant() switch
        {
            "" or "B" => 0,
            "K" or "KIB" => 10,
            "M" or "MIB" => 20,
            "G" or "GIB" => 30,
            "T" or "TIB" => 40,
            "P" or "PIB" => 50,
            _ => -1,
        };
        if (shift < 0 || number.Length == 0 || !decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal value))
        {
            error = unit.ToUpperInvariant() is "KB" or "MB" or "GB" or "TB" or "PB"
                ? $"'{text}' is ambiguous: use {unit[0]} or {unit[0]}iB (powers of 1024)"
                : $"'{text}' is not a size: use a number of bytes, or a number followed by K, M, G or T (or KiB, MiB, GiB, TiB)";
            return false;
        }
        decimal result;
        try
        {
            result = value * (decimal)(1L << shift);
        }
        catch (OverflowException)
        {
            result = decimal.MaxValue;
        }
        if (result > long.MaxValue)
        {
            error = $"'{text}' is too large";
            return false;
        }
        if (result != decimal.Truncate(result))
        {
            error = $"'{text}' is not a whole number of bytes";
            return false;
        }
        bytes = (long)result;
        return true;
    }

    /// <summary>Parse or throw <see cref="FormatException"/> with a message that says what is accepted.</summary>
    public static long Parse(string text) =>
        TryParse(text, out long bytes, out string error) ? bytes : throw new FormatException(error);

    /// <summary>The shortest exact form a command line accepts: "50M", "1G", or plain bytes.</summary>
    public static string ToArgument(long bytes)
    {
        string[] suffixes = ["", "K", "M", "G", "T", "P"];
        int u = 0;
        while (u < suffixes.Length - 1 && bytes != 0 && bytes % 1024 == 0)
        {
            bytes /= 1024;
            u++;
        }
        return bytes.ToString(CultureInfo.InvariantCulture) + suffixes[u];
    }

    /// <summary>"512 B", "50 MiB", "1.5 GiB": at most one decimal, binary units.</summary>
    public static string Format(long bytes)
    {
        if (bytes < 0) return "-" + Format(-bytes);
        int u = 0;
        double v = bytes;
        while (v >= 1024 && u < Units.Length - 1)
        {
            v /= 1024;
            u++;
        }
        if (u == 0) return $"{bytes} B";
        return Math.Abs(v - Math.Round(v)) < 0.05
            ? string.Create(CultureInfo.InvariantCulture, $"{Math.Round(v):0} {Units[u]}")
            : string.Create(CultureInfo.InvariantCulture, $"{v:0.0} {Units[u]}");
    }
}

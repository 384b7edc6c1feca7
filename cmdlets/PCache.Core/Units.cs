using System.Globalization;
using PCache.Client;

namespace PCache.Core;

/// <summary>
/// Friendly text for the format file's list views ([PCache.Core.Units]::Bytes($_.Size)). Output
/// objects stay numeric; only what the console shows goes through here.
/// </summary>
public static class Units
{
    /// <summary>"512 B", "50 MiB", "1.5 GiB".</summary>
    public static string Bytes(long bytes) => ByteSize.Format(bytes);

    /// <summary>"12.5 %" for a 0..1 ratio.</summary>
    public static string Percent(double ratio) => (ratio * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %";

    /// <summary>"3.2 MiB/s".</summary>
    public static string Rate(double bytesPerSecond) => ByteSize.Format((long)Math.Round(bytesPerSecond)) + "/s";

    /// <summary>
    /// A number with fixed decimals, for the table columns: "1.00", "0.25", "64.00" line up where
    /// "1", "0.25", "64" did not.
    /// </summary>
    public static string Fixed(double value, int decimals) =>
        value.ToString(decimals == 0 ? "0" : "0." + new string('0', decimals), CultureInfo.InvariantCulture);

    /// <summary>
    /// A path cut to <paramref name="width"/> characters from the left ("…/pcache/disk.img"): the
    /// end of a path names the file, the start is the part a reader can guess.
    /// </summary>
    public static string Tail(string? text, int width)
    {
        if (string.IsNullOrEmpty(text) || text.Length <= width || width < 2) return text ?? "";
        return "\u2026" + text[^(width - 1)..];
    }
}

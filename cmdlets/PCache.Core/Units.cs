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
}

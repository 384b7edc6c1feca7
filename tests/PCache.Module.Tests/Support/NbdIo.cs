using PCache.Core;

namespace PCache.Module.Tests;

/// <summary>I/O through a backing's NBD export with the real tools, so the daemon's counters move.</summary>
internal static class NbdIo
{
    /// <summary>Write <paramref name="bytes"/> of random data at offset 0 of a backing's NBD export (then flush).</summary>
    public static void Write(Backing backing, int bytes)
    {
        Assert.NotNull(backing.Uri);
        string file = Path.Combine(Path.GetTempPath(), $"pcm-data-{Guid.NewGuid():N}");
        File.WriteAllBytes(file, System.Security.Cryptography.RandomNumberGenerator.GetBytes(bytes));
        try
        {
            var r = Tools.Run("nbdcopy", file, backing.Uri!);
            Assert.True(r.ExitCode == 0, $"nbdcopy to {backing.Uri} failed: {r.Output}");
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>Read the first <paramref name="bytes"/> of the export, so the read counters move.</summary>
    public static void Read(Backing backing, int bytes)
    {
        var r = Tools.Run("qemu-io", "-f", "raw", "-r", "-c", $"read 0 {bytes}", backing.Uri!);
        Assert.True(r.ExitCode == 0, $"qemu-io read from {backing.Uri} failed: {r.Output}");
    }
}

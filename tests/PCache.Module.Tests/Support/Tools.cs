using System.Diagnostics;

namespace PCache.Module.Tests;

/// <summary>Running the external tools the daemon tests drive (nbdcopy, qemu-io, nbdkit, nbdfuse).</summary>
internal static class Tools
{
    public static (int ExitCode, string Output) Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    public static Process Start(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        var p = Process.Start(start)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>Write <paramref name="bytes"/> of random data at offset 0 of a backing's NBD export (then flush).</summary>
    public static void WriteThroughNbd(Backing backing, int bytes)
    {
        Assert.NotNull(backing.Uri);
        string file = Path.Combine(Path.GetTempPath(), $"pcm-data-{Guid.NewGuid():N}");
        File.WriteAllBytes(file, System.Security.Cryptography.RandomNumberGenerator.GetBytes(bytes));
        try
        {
            var r = Run("nbdcopy", file, backing.Uri!);
            Assert.True(r.ExitCode == 0, $"nbdcopy to {backing.Uri} failed: {r.Output}");
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>Read the first <paramref name="bytes"/> of the export, so the read counters move.</summary>
    public static void ReadThroughNbd(Backing backing, int bytes)
    {
        var r = Run("qemu-io", "-f", "raw", "-r", "-c", $"read 0 {bytes}", backing.Uri!);
        Assert.True(r.ExitCode == 0, $"qemu-io read from {backing.Uri} failed: {r.Output}");
    }
}

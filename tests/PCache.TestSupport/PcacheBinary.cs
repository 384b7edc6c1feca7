using System.Diagnostics;

namespace PCache.TestSupport;

/// <summary>
/// The native-AOT `pcache` under test: $PCACHE_BIN when the build script staged it, otherwise
/// published once per test run into this project's obj folder. The publish uses its own artifacts
/// folder, so it never shares obj/ with a build running elsewhere, and a file lock, so two test
/// runs never publish over each other; both waits are bounded, so a stuck publish fails the test.
/// </summary>
public static class PcacheBinary
{
    private static readonly TimeSpan PublishLimit = TimeSpan.FromMinutes(10), LockLimit = TimeSpan.FromMinutes(15);
    private static readonly Lazy<string> Binary = new(Locate, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Path => Binary.Value;

    private static string Locate()
    {
        if (Environment.GetEnvironmentVariable("PCACHE_BIN") is { Length: > 0 } staged)
        {
            if (!File.Exists(staged)) throw new InvalidOperationException($"PCACHE_BIN={staged} does not exist; run ./build.sh first");
            return staged;
        }
        string output = Repo.PathOf("tests", "PCache.TestSupport", "obj", "pcache-aot");
        Directory.CreateDirectory(output);
        using var guard = Lock(System.IO.Path.Combine(output, ".publish.lock"));
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[]
                 {
                     "publish", Repo.PathOf("engine", "pcache"), "-c", "Release", "-r", "linux-x64", "-o", System.IO.Path.Combine(output, "bin"),
                     "--artifacts-path", System.IO.Path.Combine(output, "artifacts"), "-nologo", "-v:q",
                 })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(PublishLimit)) process.Kill(true);
        process.WaitForExit();
        string binary = System.IO.Path.Combine(output, "bin", "pcache");
        if (process.ExitCode != 0 || !File.Exists(binary))
            throw new InvalidOperationException($"dotnet publish engine/pcache failed (exit {process.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
        return binary;
    }

    /// <summary>FileShare.None is an exclusive flock on Linux; another test run holding it makes this wait its turn.</summary>
    private static FileStream Lock(string path)
    {
        var deadline = DateTime.UtcNow + LockLimit;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(1000);
            }
        }
    }
}

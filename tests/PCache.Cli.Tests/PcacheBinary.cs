using System.Diagnostics;

namespace PCache.Cli.Tests;

/// <summary>
/// The native-AOT `pcache` under test: $PCACHE_BIN when the build script staged it, otherwise
/// published once per test run from engine/pcache into this project's obj folder (guarded by a
/// file lock, so two test runs never publish over each other).
/// </summary>
internal static class PcacheBinary
{
    private static readonly Lazy<string> Binary = new(Locate, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Path => Binary.Value;

    private static string Locate()
    {
        if (Environment.GetEnvironmentVariable("PCACHE_BIN") is { Length: > 0 } staged)
        {
            if (!File.Exists(staged)) throw new InvalidOperationException($"PCACHE_BIN={staged} does not exist; run ./build.sh first");
            return staged;
        }
        string root = RepoRoot();
        string output = System.IO.Path.Combine(root, "tests", "PCache.Cli.Tests", "obj", "pcache-aot");
        Directory.CreateDirectory(output);
        using var guard = Lock(System.IO.Path.Combine(output, ".publish.lock"));
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "publish", System.IO.Path.Combine(root, "engine", "pcache"), "-c", "Release", "-r", "linux-x64", "-o", output, "-nologo", "-v:q" })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10))) process.Kill(true);
        process.WaitForExit();
        string binary = System.IO.Path.Combine(output, "pcache");
        if (process.ExitCode != 0 || !File.Exists(binary))
            throw new InvalidOperationException($"dotnet publish engine/pcache failed (exit {process.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
        return binary;
    }

    /// <summary>FileShare.None is an exclusive flock on Linux; another test run holding it makes this wait.</summary>
    private static FileStream Lock(string path)
    {
        var deadline = DateTime.UtcNow.AddMinutes(15);
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

    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "PCache.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"cannot find the repository (PCache.slnx) above {AppContext.BaseDirectory}");
    }
}

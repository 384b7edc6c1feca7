namespace PCache.TestSupport;

/// <summary>Where the repository's files are, found from the test binary's location.</summary>
public static class Repo
{
    private static readonly Lazy<string> RootPath = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "PCache.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"cannot find the repository (PCache.slnx) above {AppContext.BaseDirectory}");
    });

    public static string Root => RootPath.Value;

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    public static string Docs => PathOf("docs");

    /// <summary>
    /// The staged module: $PCACHE_MODULE_DIR (./build.sh exports it), else out/PCache. Tests of
    /// the staged folder fail rather than skip when it is missing: the build must produce it.
    /// </summary>
    public static string StagedModule
    {
        get
        {
            string dir = Environment.GetEnvironmentVariable("PCACHE_MODULE_DIR") is { Length: > 0 } env ? env : PathOf("out", "PCache");
            Assert.True(Directory.Exists(dir), $"the staged module {dir} does not exist: run ./build.sh (which stages it) first");
            return dir;
        }
    }
}

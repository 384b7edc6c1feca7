using PCache.HelpGen;

namespace PCache.Module.Tests;

/// <summary>
/// The module folder ./build.sh stages (out/PCache, or $PCACHE_MODULE_DIR): complete, current,
/// and free of anything that must not ship. Fails when the folder has not been staged.
/// </summary>
public sealed class StagedModuleTests
{
    private static readonly string[] Required =
    [
        "PCache.psd1", "PCache.psm1", "PCache.dll", "PCache.Core.dll", "PCache.Client.dll", "PCache.format.ps1xml", "LICENSE",
        "bin/pcache", "en-US/PCache.dll-Help.xml", "en-US/about_PCache.help.txt",
    ];

    [Fact]
    public void HoldsEveryFileWithTheExactName()
    {
        string dir = Repo.StagedModule;
        var files = Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(dir, f)).ToHashSet(StringComparer.Ordinal);
        Assert.All(Required, r => Assert.Contains(r, files));
    }

    [Fact]
    public void ShipsNeitherThePowerShellStubNorTestAssemblies()
    {
        var names = Directory.GetFiles(Repo.StagedModule, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
        Assert.DoesNotContain("System.Management.Automation.dll", names);
        Assert.DoesNotContain(names, n => n!.StartsWith("xunit", StringComparison.OrdinalIgnoreCase) || n.Contains("Tests", StringComparison.Ordinal));
    }

    [Fact]
    public void TheEngineIsANativeExecutable()
    {
        string engine = Path.Combine(Repo.StagedModule, "bin", "pcache");
        Assert.Equal("\u007fELF"u8.ToArray(), File.ReadAllBytes(engine)[..4]);
        Assert.True(File.GetUnixFileMode(engine).HasFlag(UnixFileMode.UserExecute));
    }

    [Theory]
    [InlineData("PCache.psd1")]
    [InlineData("PCache.psm1")]
    [InlineData("PCache.format.ps1xml")]
    public void ScriptFilesAreTheRepositorys(string name) =>
        Assert.Equal(File.ReadAllText(Repo.PathOf(name)), File.ReadAllText(Path.Combine(Repo.StagedModule, name)));

    [Fact]
    public void HelpIsCurrentWithDocs()
    {
        var fresh = Directory.CreateTempSubdirectory("pcm-staged-help-").FullName;
        try
        {
            HelpBuilder.Build(Repo.Docs, fresh);
            foreach (var f in new[] { "PCache.dll-Help.xml", "about_PCache.help.txt" })
                Assert.True(File.ReadAllText(Path.Combine(fresh, f)) == File.ReadAllText(Path.Combine(Repo.StagedModule, "en-US", f)),
                    $"en-US/{f} in the staged module is older than docs/: run ./build.sh");
        }
        finally
        {
            Directory.Delete(fresh, recursive: true);
        }
    }

    /// <summary>The staged PCache.dll defines the cmdlet classes the tests checked (read from its metadata, not loaded).</summary>
    [Fact]
    public void TheStagedAssemblyHasTheTestedCmdlets()
    {
        using var stream = File.OpenRead(Path.Combine(Repo.StagedModule, "PCache.dll"));
        using var pe = new System.Reflection.PortableExecutable.PEReader(stream);
        var md = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
        var staged = md.TypeDefinitions.Select(md.GetTypeDefinition)
            .Where(t => md.GetString(t.Namespace) == "PCache.Commands" && md.GetString(t.Name).EndsWith("Command", StringComparison.Ordinal))
            .Select(t => md.GetString(t.Name)).Order(StringComparer.Ordinal);
        Assert.Equal(CmdletMetadata.All.Select(c => c.Type.Name).Order(StringComparer.Ordinal), staged);
    }
}

using System.Text.RegularExpressions;

namespace PCache.Module.Tests;

/// <summary>
/// PCache.psd1 and PCache.psm1, read as text (no pwsh here to run Test-ModuleManifest): the
/// manifest is kept literal, so simple parsing is exact.
/// </summary>
public sealed partial class ManifestTests
{
    private static readonly string Psd1 = File.ReadAllText(Repo.PathOf("PCache.psd1"));
    private static readonly string Psm1 = File.ReadAllText(Repo.PathOf("PCache.psm1"));

    /// <summary>A scalar 'Key = value' of the manifest.</summary>
    private static string Scalar(string key)
    {
        var m = Regex.Match(Psd1, $@"^\s*{key}\s*=\s*'([^']*)'", RegexOptions.Multiline);
        Assert.True(m.Success, $"PCache.psd1 has no {key} = '...'");
        return m.Groups[1].Value;
    }

    /// <summary>The quoted strings of 'Key = @( ... )'.</summary>
    private static List<string> List(string key)
    {
        var m = Regex.Match(Psd1, $@"^\s*{key}\s*=\s*@\((.*?)\)", RegexOptions.Multiline | RegexOptions.Singleline);
        Assert.True(m.Success, $"PCache.psd1 has no {key} = @(...)");
        return Regex.Matches(m.Groups[1].Value, "'([^']*)'").Select(x => x.Groups[1].Value).ToList();
    }

    [Fact]
    public void TheDllIsTheRootModuleAndThePsm1IsNested()
    {
        Assert.Equal("PCache.dll", Scalar("RootModule"));
        Assert.Equal(["PCache.psm1"], List("NestedModules"));
        Assert.Equal(["PCache.Core.dll"], List("RequiredAssemblies"));
        Assert.Equal(["PCache.format.ps1xml"], List("FormatsToProcess"));
    }

    [Fact]
    public void TheManifestTargetsPowerShell74CoreOnly()
    {
        Assert.Equal(["Core"], List("CompatiblePSEditions"));
        Assert.Equal("7.4", Scalar("PowerShellVersion"));
        Assert.True(Guid.TryParse(Scalar("GUID"), out var g) && g != Guid.Empty);
        Assert.Matches(@"^\d+\.\d+\.\d+$", Scalar("ModuleVersion"));
        Assert.False(string.IsNullOrWhiteSpace(Scalar("Author")));
        Assert.False(string.IsNullOrWhiteSpace(Scalar("Description")));
    }

    [Fact]
    public void TheVersionIsTheAssemblys()
    {
        var version = typeof(PCache.Commands.PCacheCmdlet).Assembly.GetName().Version!;
        Assert.Equal($"{version.Major}.{version.Minor}.{version.Build}", Scalar("ModuleVersion"));
    }

    [Fact]
    public void CmdletsToExportIsExactlyTheDllsCmdlets() =>
        Assert.Equal(CmdletMetadata.All.Select(c => c.Name).Order(StringComparer.Ordinal), List("CmdletsToExport").Order(StringComparer.Ordinal));

    [Fact]
    public void FunctionsToExportIsExactlyWhatThePsm1Exports()
    {
        var exported = Psm1Exports();
        Assert.Equal(exported.Order(StringComparer.Ordinal), List("FunctionsToExport").Order(StringComparer.Ordinal));
        foreach (var f in exported) Assert.Contains(f, Psm1Functions().Keys);
    }

    [Fact]
    public void NothingIsExportedByWildcardOrLeftImplicit()
    {
        foreach (var key in new[] { "CmdletsToExport", "FunctionsToExport", "AliasesToExport", "VariablesToExport" })
            Assert.All(List(key), name => Assert.DoesNotContain("*", name));
        Assert.Empty(List("AliasesToExport"));
        Assert.Empty(List("VariablesToExport"));
    }

    [Fact]
    public void GalleryMetadataIsComplete()
    {
        var tags = List("Tags");
        foreach (var t in new[] { "PSEdition_Core", "Linux", "Storage", "Cache", "pmem" }) Assert.Contains(t, tags);
        Assert.All(tags, t => Assert.DoesNotContain(" ", t));
        Assert.StartsWith("https://", Scalar("ProjectUri"));
        Assert.StartsWith("https://", Scalar("LicenseUri"));
        Assert.Matches(new Regex(@"ReleaseNotes\s*=\s*@'\r?\n.+?\r?\n'@", RegexOptions.Singleline), Psd1);
    }

    [Fact]
    public void EveryFileTheManifestNamesIsInTheRepositoryWithThatCase()
    {
        foreach (var f in new[] { "PCache.psm1", "PCache.format.ps1xml" }.Concat(List("NestedModules")).Concat(List("FormatsToProcess")))
            Assert.True(File.Exists(Repo.PathOf(f)), $"{f} is missing (names are case-sensitive on Linux)");
    }

    [Fact]
    public void ScriptFunctionsUseTheCompiledHelp()
    {
        foreach (var (name, body) in Psm1Functions().Where(f => Psm1Exports().Contains(f.Key)))
            Assert.Contains("# .EXTERNALHELP PCache.dll-Help.xml", body);
    }

    /// <summary>Names in Export-ModuleMember -Function.</summary>
    internal static List<string> Psm1Exports()
    {
        var m = Regex.Match(Psm1, @"^Export-ModuleMember\s+-Function\s+(.+)$", RegexOptions.Multiline);
        Assert.True(m.Success, "PCache.psm1 has no Export-ModuleMember -Function line");
        return Regex.Matches(m.Groups[1].Value, "'([^']+)'").Select(x => x.Groups[1].Value).ToList();
    }

    /// <summary>Each function's text, from its 'function' line to the next one.</summary>
    internal static Dictionary<string, string> Psm1Functions()
    {
        var starts = Regex.Matches(Psm1, @"^function\s+([\w-]+)\s*\{", RegexOptions.Multiline).ToList();
        var result = new Dictionary<string, string>();
        for (int i = 0; i < starts.Count; i++)
        {
            int end = i + 1 < starts.Count ? starts[i + 1].Index : Psm1.Length;
            result[starts[i].Groups[1].Value] = Psm1[starts[i].Index..end];
        }
        return result;
    }

    /// <summary>A function's parameters: the $Names in its param( ... ) block.</summary>
    internal static List<string> Psm1Parameters(string function)
    {
        string body = Psm1Functions()[function];
        int start = body.IndexOf("param(", StringComparison.Ordinal);
        Assert.True(start >= 0, $"{function} has no param block");
        int depth = 0, i = start + "param".Length;
        for (; i < body.Length; i++)
        {
            if (body[i] == '(') depth++;
            else if (body[i] == ')' && --depth == 0) break;
        }
        return Regex.Matches(body[start..i], @"\$(?!(?:true|false|null)\b)(\w+)").Select(m => m.Groups[1].Value).Distinct().ToList();
    }

    internal static bool Psm1SupportsShouldProcess(string function) =>
        Regex.IsMatch(Psm1Functions()[function], @"CmdletBinding\([^)]*SupportsShouldProcess\s*=\s*\$true");
}

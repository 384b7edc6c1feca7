using System.Management.Automation;
using System.Text.RegularExpressions;
using PCache.HelpGen;

namespace PCache.Module.Tests;

/// <summary>
/// docs/ against the built module, both ways: every cmdlet and script function has a doc, every
/// doc names a command that exists, and every parameter's documented binding is the real one.
/// Common parameters are not documented per command; -WhatIf/-Confirm are, as PlatyPS does.
/// </summary>
public sealed class HelpTests
{
    private static readonly IReadOnlyList<CommandHelp> Docs = HelpBuilder.ReadCommands(Repo.Docs);

    private static CommandHelp Doc(string name) =>
        Docs.SingleOrDefault(d => d.Name == name) ?? throw new Xunit.Sdk.XunitException($"docs/{name}.md is missing");

    private static IEnumerable<string> Functions => ManifestTests.Psm1Exports();

    public static TheoryData<string> Cmdlets() => CmdletConventionTests.Cmdlets();

    public static TheoryData<string> Commands() => new(CmdletMetadata.All.Select(c => c.Name).Concat(ManifestTests.Psm1Exports()));

    [Fact]
    public void EveryCommandHasADocAndEveryDocACommand()
    {
        var commands = CmdletMetadata.All.Select(c => c.Name).Concat(Functions).Order(StringComparer.Ordinal);
        Assert.Equal(commands, Docs.Select(d => d.Name).Order(StringComparer.Ordinal));
        foreach (var d in Docs) Assert.Equal($"{d.Name}.md", d.SourceFile);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void DocsFollowTheSchemaAndSaySomething(string name)
    {
        var d = Doc(name);
        Assert.Equal("PCache.dll-Help.xml", d.Metadata["external help file"]);
        Assert.Equal("PCache", d.Metadata["Module Name"]);
        Assert.Equal("en-US", d.Metadata["Locale"]);
        Assert.EndsWith(".", d.Synopsis);
        Assert.NotEmpty(d.Description);
        Assert.True(d.Examples.Count >= 2, $"{name}: give at least two examples");
        Assert.All(d.Examples, e => Assert.Contains(e.Content, b => b.Kind == BlockKind.Code));
        Assert.True(d.HasCommonParameters, $"{name}: the CommonParameters section is missing");
        Assert.NotEmpty(d.Inputs);
        Assert.NotEmpty(d.Outputs);
        Assert.All(d.Parameters, p => Assert.NotEmpty(p.Description));
        foreach (var (_, uri) in d.RelatedLinks.Where(l => l.Uri.EndsWith(".md", StringComparison.Ordinal)))
            Assert.True(File.Exists(Path.Combine(Repo.Docs, uri)), $"{name} links to {uri}, which does not exist");
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void EveryParameterIsDocumentedWithItsRealBinding(string name)
    {
        var c = CmdletMetadata.Get(name);
        var d = Doc(name);
        var expected = c.Parameters.Select(p => p.Name).Concat(c.SupportsShouldProcess ? ["WhatIf", "Confirm"] : []).Order(StringComparer.Ordinal);
        Assert.Equal(expected, d.Parameters.Select(p => p.Name).Order(StringComparer.Ordinal));
        foreach (var p in c.Parameters)
        {
            var doc = d.Parameters.Single(x => x.Name == p.Name);
            Assert.True(p.Type.ToString() == doc.Type, $"{name} -{p.Name}: type is {p.Type}, documented {doc.Type}");
            Assert.Equal(p.Aliases.Order(), doc.Aliases.Order());
            Assert.Equal(p.Attribute<SupportsWildcardsAttribute>() is not null, doc.SupportsWildcards);
            var actual = p.Sets.Select(s => new ParameterSetHelp(s.Name == ParameterInfo.AllSets ? ParameterSetHelp.All : s.Name,
                s.Position?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "Named", s.Mandatory, s.ValueFromPipeline, s.ValueFromPipelineByPropertyName, false));
            Assert.Equal(actual.OrderBy(s => s.Name), doc.ParameterSets.OrderBy(s => s.Name));
            string[] accepted = p.Attribute<ValidateSetAttribute>() is { } set
                ? ((IEnumerable<System.Reflection.CustomAttributeTypedArgument>)set.ConstructorArguments[0].Value!).Select(a => (string)a.Value!).ToArray()
                : [];
            Assert.Equal(accepted, doc.AcceptedValues.ToArray());
        }
        foreach (var risk in d.Parameters.Where(p => p.Name is "WhatIf" or "Confirm"))
        {
            Assert.Equal("System.Management.Automation.SwitchParameter", risk.Type);
            Assert.Equal([risk.Name == "WhatIf" ? "wi" : "cf"], risk.Aliases);
        }
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void SyntaxListsEveryParameterSet(string name)
    {
        var c = CmdletMetadata.Get(name);
        var d = Doc(name);
        Assert.Equal(c.ParameterSets.Order(), d.Syntax.Select(s => s.SetName).Order());
        if (c.ParameterSets.Count > 1) Assert.Equal(c.DefaultParameterSetName, Assert.Single(d.Syntax, s => s.IsDefault).SetName);
        foreach (var s in d.Syntax)
        {
            Assert.StartsWith(name + " ", s.Code);
            foreach (var p in c.Parameters.Where(p => p.Sets.Any(x => x.Name == s.SetName || x.Name == ParameterInfo.AllSets)))
                Assert.Contains($"-{p.Name}", s.Code);
            if (c.SupportsShouldProcess) Assert.Contains("[-WhatIf] [-Confirm]", Regex.Replace(s.Code, @"\s+", " "));
        }
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void OutputsAreTheDeclaredOutputTypes(string name)
    {
        var c = CmdletMetadata.Get(name);
        Assert.Equal(c.OutputTypes.Select(o => o.Type.FullName!).Distinct().Order(), Doc(name).Outputs.Select(o => o.TypeName).Order());
        foreach (var input in Doc(name).Inputs.Select(i => i.TypeName).Where(t => t != "None"))
            Assert.True(typeof(Cache).Assembly.GetType(input) is not null || Type.GetType(input) is not null, $"{name}: input type {input} does not exist");
    }

    [Theory]
    [MemberData(nameof(Functions2))]
    public void ScriptFunctionsAreDocumentedWithTheirParameters(string name)
    {
        var expected = ManifestTests.Psm1Parameters(name).Concat(ManifestTests.Psm1SupportsShouldProcess(name) ? ["WhatIf", "Confirm"] : []);
        Assert.Equal(expected.Order(StringComparer.Ordinal), Doc(name).Parameters.Select(p => p.Name).Order(StringComparer.Ordinal));
        string body = ManifestTests.Psm1Functions()[name];
        foreach (var p in Doc(name).Parameters.Where(p => p.Name is not "WhatIf" and not "Confirm"))
        {
            var declared = Regex.Match(body, $@"\[(string|int|switch)\]\s*\${p.Name}\b");
            Assert.True(declared.Success, $"{name} -{p.Name}: declare it as [string], [int] or [switch] so the doc's type can be checked");
            Assert.Equal(declared.Groups[1].Value switch
            {
                "int" => "System.Int32",
                "switch" => "System.Management.Automation.SwitchParameter",
                _ => "System.String",
            }, p.Type);
        }
    }

    public static TheoryData<string> Functions2() => new(ManifestTests.Psm1Exports());

    [Fact]
    public void TheParserRejectsDocsThatBreakTheSchema()
    {
        string good = File.ReadAllText(Path.Combine(Repo.Docs, "Get-PCacheDaemon.md"));
        MarkdownHelpReader.ReadCommand(good, "good.md");
        Assert.Throws<HelpFormatException>(() => MarkdownHelpReader.ReadCommand(good.Replace("## OUTPUTS", "## OUTPUT"), "x.md"));
        Assert.Throws<HelpFormatException>(() => MarkdownHelpReader.ReadCommand(good.Replace("## EXAMPLES", "## EXAMPLESX"), "x.md"));
        Assert.Throws<HelpFormatException>(() => MarkdownHelpReader.ReadCommand(good.Replace("```yaml", "```text"), "x.md"));
        Assert.Throws<HelpFormatException>(() => MarkdownHelpReader.ReadCommand(good.Replace("title: Get-PCacheDaemon", "title: Get-Other"), "x.md"));
        string swapped = good.Replace("## SYNOPSIS", "## TMP").Replace("## DESCRIPTION", "## SYNOPSIS").Replace("## TMP", "## DESCRIPTION");
        Assert.Throws<HelpFormatException>(() => MarkdownHelpReader.ReadCommand(swapped, "x.md"));
    }
}

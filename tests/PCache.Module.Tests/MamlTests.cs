using System.Text;
using System.Xml.Linq;
using PCache.HelpGen;

namespace PCache.Module.Tests;

/// <summary>The help files the build generates from docs/: MAML for Get-Help, and the about topic.</summary>
public sealed class MamlTests : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("pcm-help-").FullName;
    private readonly XDocument _maml;

    public MamlTests()
    {
        HelpBuilder.Build(Repo.Docs, _out);
        _maml = XDocument.Load(Path.Combine(_out, "PCache.dll-Help.xml"));
    }

    private IEnumerable<XElement> Commands => _maml.Root!.Elements(MamlWriter.Command + "command");

    private XElement Command(string name) => Commands.Single(c => c.Element(MamlWriter.Command + "details")!.Element(MamlWriter.Command + "name")!.Value == name);

    [Fact]
    public void IsMamlWithOneCommandPerCmdletAndFunction()
    {
        Assert.Equal(MamlWriter.Msh + "helpItems", _maml.Root!.Name);
        Assert.Equal("maml", _maml.Root.Attribute("schema")!.Value);
        var names = Commands.Select(c => c.Element(MamlWriter.Command + "details")!.Element(MamlWriter.Command + "name")!.Value);
        Assert.Equal(CmdletMetadata.All.Select(c => c.Name).Concat(ManifestTests.Psm1Exports()).Order(StringComparer.Ordinal), names.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(CmdletConventionTests.Cmdlets), MemberType = typeof(CmdletConventionTests))]
    public void EachCommandHasItsPartsAndTheDllsParameters(string name)
    {
        XNamespace cmd = MamlWriter.Command, maml = MamlWriter.Maml, dev = MamlWriter.Dev;
        var c = CmdletMetadata.Get(name);
        var x = Command(name);
        var details = x.Element(cmd + "details")!;
        Assert.Equal(c.Verb, details.Element(cmd + "verb")!.Value);
        Assert.Equal(c.Noun, details.Element(cmd + "noun")!.Value);
        Assert.False(string.IsNullOrWhiteSpace(details.Element(maml + "description")!.Value));
        Assert.NotEmpty(x.Element(maml + "description")!.Elements(maml + "para"));

        var parameters = x.Element(cmd + "parameters")!.Elements(cmd + "parameter").ToList();
        var expected = c.Parameters.Select(p => p.Name).Concat(c.SupportsShouldProcess ? ["WhatIf", "Confirm"] : []);
        Assert.Equal(expected.Order(StringComparer.Ordinal), parameters.Select(p => p.Element(maml + "name")!.Value).Order(StringComparer.Ordinal));
        foreach (var p in c.Parameters)
        {
            var e = parameters.Single(e => e.Element(maml + "name")!.Value == p.Name);
            // SYNTAX names types as PowerShell users write them: int, not System.Nullable`1[System.Int32].
            Assert.Equal(PCache.HelpGen.MamlWriter.FriendlyType(p.Type.ToString()), e.Element(dev + "type")!.Element(maml + "name")!.Value);
            Assert.DoesNotContain("Nullable", e.Element(dev + "type")!.Element(maml + "name")!.Value);
            bool byValue = p.Sets[0].ValueFromPipeline;
            Assert.Equal(byValue && p.ByPropertyName ? "True (ByValue, ByPropertyName)" : byValue ? "True (ByValue)" : p.ByPropertyName ? "True (ByPropertyName)" : "False",
                e.Attribute("pipelineInput")!.Value);
            Assert.Equal(p.Sets[0].Mandatory ? "true" : "false", e.Attribute("required")!.Value);
            Assert.Equal(p.Sets[0].Position?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "named", e.Attribute("position")!.Value);
        }

        var syntax = x.Element(cmd + "syntax")!.Elements(cmd + "syntaxItem").ToList();
        Assert.Equal(c.ParameterSets.Count, syntax.Count);
        Assert.All(syntax, s => Assert.Equal(name, s.Element(maml + "name")!.Value));
        Assert.Equal(c.OutputTypes.Select(o => o.Type.FullName!).Distinct().Order(),
            x.Element(cmd + "returnValues")!.Elements(cmd + "returnValue").Select(r => r.Element(dev + "type")!.Element(maml + "name")!.Value).Order());
        Assert.NotEmpty(x.Element(cmd + "inputTypes")!.Elements(cmd + "inputType"));
        var examples = x.Element(cmd + "examples")!.Elements(cmd + "example").ToList();
        Assert.True(examples.Count >= 2);
        Assert.All(examples, e => Assert.False(string.IsNullOrWhiteSpace(e.Element(dev + "code")!.Value)));
    }

    [Fact]
    public void ContinuousStatisticsHaveTheirOwnSyntaxWithTheDefaultFirst()
    {
        XNamespace cmd = MamlWriter.Command, maml = MamlWriter.Maml;
        var items = Command("Get-PCacheStat").Element(cmd + "syntax")!.Elements(cmd + "syntaxItem").ToList();
        var names = items.Select(i => i.Elements(cmd + "parameter").Select(p => p.Element(maml + "name")!.Value).ToList()).ToList();
        Assert.DoesNotContain("Continuous", names[0]);
        Assert.Equal("BackingId", names[0][0]);
        Assert.Contains("Continuous", names[1]);
        Assert.Contains("MaxSamples", names[1]);
    }

    [Theory]
    [InlineData("see [about_PCache](about_PCache.md) and `Get-PCacheBacking -Path /dev/sd*`", "see about_PCache (about_PCache.md) and Get-PCacheBacking -Path /dev/sd*")]
    [InlineData("**bold** and *stress* but `$x['*-PCache*:SocketPath']`", "bold and stress but $x['*-PCache*:SocketPath']")]
    [InlineData("2 * 3 * 4", "2 * 3 * 4")]
    public void InlineMarkdownBecomesPlainTextButCodeStaysAsWritten(string markdown, string plain) =>
        Assert.Equal(plain, MamlWriter.Plain(markdown));

    [Fact]
    public void MarkdownIsPlainTextInTheHelp()
    {
        string text = _maml.ToString();
        Assert.DoesNotContain("](", text);
        Assert.DoesNotContain("**", text);
    }

    [Fact]
    public void TheAboutTopicHasTheLayoutGetHelpReads()
    {
        string path = Path.Combine(_out, "about_PCache.help.txt");
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.AsSpan().StartsWith(Encoding.UTF8.Preamble), "UTF-8 with a BOM");
        var lines = File.ReadAllLines(path);
        Assert.Equal("TOPIC", lines[0]);
        Assert.Equal("    about_PCache", lines[1]);
        Assert.Equal("", lines[2]);
        Assert.Equal("SHORT DESCRIPTION", lines[3]);
        // Get-Help takes the fifth line as the topic's synopsis.
        Assert.StartsWith("    Manage PCache", lines[4]);
        Assert.Equal("", lines[5]); // the synopsis fits on its one line
        Assert.All(lines, l => Assert.True(l.Length <= AboutTopicWriter.Width, $"longer than 80 columns: {l}"));
        Assert.Contains("LONG DESCRIPTION", lines);
        Assert.Contains("SEE ALSO", lines);
    }

    public void Dispose() => Directory.Delete(_out, recursive: true);
}

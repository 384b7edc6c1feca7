using System.Text.RegularExpressions;
using PCache.HelpGen;

namespace PCache.Module.Tests;

/// <summary>
/// The commands and parameters that the docs' examples, the about topic, the module README
/// section and the Pester suite use exist: a renamed parameter must not leave stale examples.
/// </summary>
public sealed partial class ExampleCommandTests
{
    private static readonly HashSet<string> Common =
    [
        "Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ProgressAction", "ErrorVariable", "WarningVariable",
        "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable", "WhatIf", "Confirm",
    ];

    /// <summary>Every parameter name and alias of each command (cmdlets from metadata, functions from PCache.psm1).</summary>
    private static Dictionary<string, HashSet<string>> Parameters()
    {
        var result = CmdletMetadata.All.ToDictionary(c => c.Name, c => c.Parameters.SelectMany(p => p.Aliases.Append(p.Name)).ToHashSet(StringComparer.OrdinalIgnoreCase));
        foreach (var f in ManifestTests.Psm1Exports()) result[f] = ManifestTests.Psm1Parameters(f).ToHashSet(StringComparer.OrdinalIgnoreCase);
        return result;
    }

    public static TheoryData<string> Sources()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Repo.Docs, "*.md").Order(StringComparer.Ordinal)) data.Add(Path.GetRelativePath(Repo.Root, f));
        data.Add("tests/PCache.Tests.ps1");
        return data;
    }

    [Theory]
    [MemberData(nameof(Sources))]
    public void CommandsAndParametersUsedExist(string relativePath)
    {
        var known = Parameters();
        string text = File.ReadAllText(Repo.PathOf(relativePath));
        // Code only: fenced blocks of markdown, the whole of a script.
        var code = relativePath.EndsWith(".md", StringComparison.Ordinal)
            ? FencedCode().Matches(text).Select(m => m.Groups[1].Value)
            : [text];
        var problems = new List<string>();
        foreach (var line in code.SelectMany(c => c.Split('\n')))
        {
            // One command per segment: split at pipes, semicolons and parentheses.
            foreach (var segment in Regex.Split(line, @"[|;(){}]"))
            {
                var m = CommandName().Match(segment);
                if (!m.Success) continue;
                string name = m.Groups[1].Value;
                if (!known.TryGetValue(name, out var parameters))
                {
                    problems.Add($"{name} is not a command of the module");
                    continue;
                }
                foreach (Match p in ParameterName().Matches(segment[(m.Index + m.Length)..]))
                {
                    string parameter = p.Groups[1].Value;
                    if (!parameters.Contains(parameter) && !Common.Contains(parameter))
                        problems.Add($"{name} has no -{parameter}: '{segment.Trim()}'");
                }
            }
        }
        Assert.True(problems.Count == 0, $"{relativePath}:\n" + string.Join("\n", problems.Distinct()));
    }

    [GeneratedRegex(@"```[\w-]*\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex FencedCode();

    [GeneratedRegex(@"(?<![\w-])([A-Z][a-z]+-PCache[A-Za-z]*)\b")]
    private static partial Regex CommandName();

    [GeneratedRegex(@"(?<=\s)-([A-Za-z]+)(?=[\s:]|$)")]
    private static partial Regex ParameterName();
}

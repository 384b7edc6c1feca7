using System.Text.RegularExpressions;

namespace PCache.Module.Tests;

/// <summary>
/// docs/examples/pcache-playbook.yml drives the pcache command line: every verb and option it
/// passes must be one the real executable documents in its --help, and every task that changes
/// something decides "changed" from the JSON the command printed.
/// </summary>
public sealed partial class PlaybookTests
{
    private static readonly string Playbook = File.ReadAllText(Repo.PathOf("docs", "examples", "pcache-playbook.yml"));

    [Fact]
    public void EveryVerbAndOptionIsTheCommandLines()
    {
        var calls = Argv().Matches(Playbook).Select(m => (Verb: m.Groups[1].Value, Arguments: m.Groups[2].Value)).ToList();
        Assert.NotEmpty(calls);
        foreach (var (verb, arguments) in calls)
        {
            var help = Tools.Run(PcacheBinary.Path, verb, "--help");
            Assert.True(help.ExitCode == 0, $"pcache {verb} --help failed: {help.Output}");
            foreach (Match option in Option().Matches(arguments))
                Assert.True(help.Output.Contains(option.Value + " ", StringComparison.Ordinal), $"pcache {verb} has no {option.Value}");
        }
    }

    [Fact]
    public void ChangesAreJudgedFromJson()
    {
        var changedWhen = Regex.Matches(Playbook, @"changed_when:\s*(.+)").Select(m => m.Groups[1].Value.Trim()).ToList();
        Assert.Equal(Argv().Matches(Playbook).Count, changedWhen.Count);
        Assert.All(changedWhen, c => Assert.True(c == "false" || c.Contains("from_json", StringComparison.Ordinal), $"changed_when: {c}"));
        Assert.Contains(changedWhen, c => c != "false");
    }

    [GeneratedRegex(@"argv:\s*\[pcache,\s*([a-z-]+),?(.*?)\]", RegexOptions.Singleline)]
    private static partial Regex Argv();

    [GeneratedRegex(@"--[a-z-]+")]
    private static partial Regex Option();
}

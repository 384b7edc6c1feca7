namespace PCache.Engine.Tests;

/// <summary>
/// `./build.sh mutants` patches a scratch copy of the engine with the persistence mutants in
/// tests/mutants/mutants.txt. It is too slow for every test run, so this checks the cheap half on
/// every run: each mutant's search text is still in the current sources exactly once, so an engine
/// edit that moves a mutated line fails here instead of silently turning a mutant into a no-op.
/// </summary>
public class MutantListTests
{
    [Fact]
    public void Mutant_list_still_applies_to_the_engine_sources()
    {
        string root = Repo.Root;
        string list = Path.Combine(root, "tests", "mutants", "mutants.txt");
        var edits = Parse(File.ReadAllLines(list));
        Assert.True(edits.Select(e => e.Mutant).Distinct().Count() >= 5, "the list must hold at least the five mutants of issue 8");
        var texts = new Dictionary<string, string>();
        var problems = new List<string>();
        foreach (var (mutant, file, search, replace) in edits)
        {
            string path = Path.Combine(root, file);
            if (!texts.TryGetValue(path, out var text))
            {
                if (!File.Exists(path)) { problems.Add($"{mutant}: {file} does not exist"); continue; }
                texts[path] = text = File.ReadAllText(path);
            }
            int n = Count(text, search);
            if (n != 1) problems.Add($"{mutant}: search text found {n} times in {file} (must be once):\n{search}");
            else if (search == replace) problems.Add($"{mutant}: the replacement changes nothing");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    private static int Count(string text, string search)
    {
        int n = 0;
        for (int at = text.IndexOf(search, StringComparison.Ordinal); at >= 0; at = text.IndexOf(search, at + 1, StringComparison.Ordinal)) n++;
        return n;
    }

    /// <summary>The same format tests/mutants/mutants.py reads: "@@ search" / "@@ replace" / "@@ end" blocks after "file PATH".</summary>
    private static List<(string Mutant, string File, string Search, string Replace)> Parse(string[] lines)
    {
        var edits = new List<(string, string, string, string)>();
        string mutant = "", file = "";
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            if (line.StartsWith("mutant ")) mutant = line[7..].Trim();
            else if (line.StartsWith("file ")) file = line[5..].Trim();
            else if (line == "@@ search")
            {
                var search = new List<string>();
                var replace = new List<string>();
                for (i++; lines[i] != "@@ replace"; i++) search.Add(lines[i]);
                for (i++; lines[i] != "@@ end"; i++) replace.Add(lines[i]);
                edits.Add((mutant, file, string.Join("\n", search), string.Join("\n", replace)));
            }
        }
        return edits;
    }
}

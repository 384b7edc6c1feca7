using System.Text.RegularExpressions;

namespace PCache.HelpGen;

/// <summary>A markdown help file that does not follow the schema; the message names file and line.</summary>
public sealed class HelpFormatException(string message) : Exception(message);

/// <summary>
/// Reads cmdlet help in the PlatyPS markdown schema (2024-05-01): YAML front matter, the command
/// name as H1, then the H2 sections in their fixed order, parameters as H3 "-Name" with a YAML
/// block, examples as H3 titles. Only the subset PlatyPS writes is accepted, strictly, so a typo
/// in a doc fails the build instead of vanishing from Get-Help.
/// </summary>
public static partial class MarkdownHelpReader
{
    public static IReadOnlyList<string> Sections { get; } =
        ["SYNOPSIS", "SYNTAX", "ALIASES", "DESCRIPTION", "EXAMPLES", "PARAMETERS", "INPUTS", "OUTPUTS", "NOTES", "RELATED LINKS"];

    /// <summary>ALIASES is the one section PlatyPS allows to be left out.</summary>
    public static IReadOnlyList<string> RequiredSections { get; } = Sections.Where(s => s != "ALIASES").ToList();

    /// <summary>Front matter of a markdown file (empty when it has none).</summary>
    public static Dictionary<string, string> FrontMatter(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var lines = Lines(text);
        if (lines.Length == 0 || lines[0].Trim() != "---") return result;
        for (int i = 1; i < lines.Length && lines[i].Trim() != "---"; i++)
        {
            int colon = lines[i].IndexOf(':');
            if (colon > 0) result[lines[i][..colon].Trim()] = Unquote(lines[i][(colon + 1)..].Trim());
        }
        return result;
    }

    public static bool IsCommandHelp(string text) =>
        FrontMatter(text).TryGetValue("document type", out var t) && t.Equals("cmdlet", StringComparison.OrdinalIgnoreCase);

    public static bool IsAboutTopic(string text) =>
        FrontMatter(text).TryGetValue("document type", out var t) && t.Equals("about", StringComparison.OrdinalIgnoreCase);

    public static CommandHelp ReadCommand(string text, string file)
    {
        var doc = Parse(text, file);
        var help = new CommandHelp { SourceFile = file, Metadata = doc.FrontMatter, Name = doc.Title };
        if (doc.FrontMatter.TryGetValue("title", out var title) && title != doc.Title)
            throw new HelpFormatException($"{file}: front matter title '{title}' differs from the H1 '{doc.Title}'");

        var names = doc.Sections.Select(s => s.Heading).ToList();
        foreach (var missing in RequiredSections.Where(r => !names.Contains(r)))
            throw new HelpFormatException($"{file}: section '## {missing}' is missing");
        foreach (var s in doc.Sections.Where(s => !Sections.Contains(s.Heading)))
            throw new HelpFormatException($"{file}:{s.Line}: unknown section '## {s.Heading}' (expected {string.Join(", ", Sections)})");
        var order = names.Select(n => Sections.ToList().IndexOf(n)).ToList();
        if (!order.SequenceEqual(order.Order()) || names.Distinct().Count() != names.Count)
            throw new HelpFormatException($"{file}: sections must appear once each, in the order {string.Join(", ", Sections)}");

        foreach (var s in doc.Sections)
        {
            switch (s.Heading)
            {
                case "SYNOPSIS":
                    help.Synopsis = string.Join(" ", Blocks(s.Lines, file, s.Line).Select(b => b.Text)).Trim();
                    if (help.Synopsis.Length == 0) throw new HelpFormatException($"{file}:{s.Line}: SYNOPSIS is empty");
                    break;
                case "SYNTAX":
                    foreach (var sub in SubSections(s, file))
                    {
                        var code = Blocks(sub.Lines, file, sub.Line).FirstOrDefault(b => b.Kind == BlockKind.Code)
                            ?? throw new HelpFormatException($"{file}:{sub.Line}: syntax '{sub.Heading}' has no code block");
                        bool isDefault = sub.Heading.EndsWith("(Default)", StringComparison.Ordinal);
                        help.Syntax.Add(new SyntaxBlock(sub.Heading.Replace("(Default)", "").Trim(), isDefault, code.Text));
                    }
                    break;
                case "DESCRIPTION":
                    help.Description.AddRange(Blocks(s.Lines, file, s.Line));
                    break;
                case "EXAMPLES":
                    foreach (var sub in SubSections(s, file))
                        help.Examples.Add(new Example(sub.Heading, Blocks(sub.Lines, file, sub.Line)));
                    break;
                case "PARAMETERS":
                    foreach (var sub in SubSections(s, file))
                    {
                        if (sub.Heading == "CommonParameters")
                        {
                            help.HasCommonParameters = true;
                            continue;
                        }
                        if (!sub.Heading.StartsWith('-'))
                            throw new HelpFormatException($"{file}:{sub.Line}: parameter heading '### {sub.Heading}' must be '### -Name'");
                        help.Parameters.Add(ReadParameter(sub.Heading[1..], Blocks(sub.Lines, file, sub.Line), file, sub.Line));
                    }
                    break;
                case "INPUTS":
                    help.Inputs.AddRange(SubSections(s, file).Select(sub => new TypeHelp(sub.Heading, Blocks(sub.Lines, file, sub.Line))));
                    break;
                case "OUTPUTS":
                    help.Outputs.AddRange(SubSections(s, file).Select(sub => new TypeHelp(sub.Heading, Blocks(sub.Lines, file, sub.Line))));
                    break;
                case "NOTES":
                    help.Notes.AddRange(Blocks(s.Lines, file, s.Line));
                    break;
                case "RELATED LINKS":
                    foreach (var b in Blocks(s.Lines, file, s.Line))
                    {
                        var m = LinkPattern().Match(b.Text);
                        if (b.Kind != BlockKind.ListItem || !m.Success)
                            throw new HelpFormatException($"{file}:{s.Line}: RELATED LINKS holds only list items of the form [text](uri), not '{b.Text}'");
                        help.RelatedLinks.Add((m.Groups[1].Value, m.Groups[2].Value));
                    }
                    break;
            }
        }
        return help;
    }

    public static AboutTopic ReadAbout(string text, string file)
    {
        var doc = Parse(text, file);
        if (!doc.Title.StartsWith("about_", StringComparison.Ordinal))
            throw new HelpFormatException($"{file}: an about topic's H1 must be its name, about_Something");
        var sections = doc.Sections.Select(s => (s.Heading, (IReadOnlyList<Block>)Blocks(s.Lines, file, s.Line))).ToList();
        if (sections.Count == 0 || sections[0].Heading != "SHORT DESCRIPTION")
            throw new HelpFormatException($"{file}: an about topic starts with '## SHORT DESCRIPTION'");
        return new AboutTopic(doc.Title, sections);
    }

    private static ParameterHelp ReadParameter(string name, List<Block> blocks, string file, int line)
    {
        var yaml = blocks.LastOrDefault(b => b.Kind == BlockKind.Code && b.Language == "yaml")
            ?? throw new HelpFormatException($"{file}:{line}: parameter -{name} has no yaml block");
        var p = new ParameterHelp { Name = name };
        p.Description.AddRange(blocks.Where(b => b != yaml));
        if (p.Description.Count == 0) throw new HelpFormatException($"{file}:{line}: parameter -{name} has no description");
        var map = SimpleYaml.Parse(yaml.Text, $"{file}: parameter -{name}");
        p.Type = map.Scalar("Type") ?? throw new HelpFormatException($"{file}:{line}: parameter -{name} has no Type");
        p.DefaultValue = map.Scalar("DefaultValue") ?? "None";
        p.SupportsWildcards = map.Bool("SupportsWildcards");
        p.Aliases.AddRange(map.List("Aliases"));
        p.DontShow = map.Bool("DontShow");
        p.AcceptedValues.AddRange(map.List("AcceptedValues"));
        p.HelpMessage = map.Scalar("HelpMessage") ?? "";
        var sets = map.Maps("ParameterSets");
        if (sets.Count == 0) throw new HelpFormatException($"{file}:{line}: parameter -{name} has no ParameterSets");
        foreach (var s in sets)
            p.ParameterSets.Add(new ParameterSetHelp(
                s.Scalar("Name") ?? throw new HelpFormatException($"{file}:{line}: a parameter set of -{name} has no Name"),
                s.Scalar("Position") ?? "Named",
                s.Bool("IsRequired"), s.Bool("ValueFromPipeline"), s.Bool("ValueFromPipelineByPropertyName"), s.Bool("ValueFromRemainingArguments")));
        return p;
    }

    // ---- document structure ----------------------------------------------------------------

    private sealed record Section(string Heading, int Line, List<string> Lines);

    private sealed record Document(Dictionary<string, string> FrontMatter, string Title, List<Section> Sections);

    private static Document Parse(string text, string file)
    {
        var lines = Lines(text);
        var front = FrontMatter(text);
        int i = 0;
        if (lines.Length > 0 && lines[0].Trim() == "---")
        {
            i = Array.FindIndex(lines, 1, l => l.Trim() == "---");
            if (i < 0) throw new HelpFormatException($"{file}: the front matter is not closed with ---");
            i++;
        }
        string? title = null;
        var sections = new List<Section>();
        bool inCode = false;
        for (; i < lines.Length; i++)
        {
            string l = lines[i];
            if (l.TrimStart().StartsWith("```", StringComparison.Ordinal)) inCode = !inCode;
            if (!inCode && l.StartsWith("# ", StringComparison.Ordinal))
            {
                if (title is not null) throw new HelpFormatException($"{file}:{i + 1}: a second H1");
                title = l[2..].Trim();
                continue;
            }
            if (!inCode && l.StartsWith("## ", StringComparison.Ordinal))
            {
                sections.Add(new Section(l[3..].Trim(), i + 1, []));
                continue;
            }
            if (sections.Count > 0) sections[^1].Lines.Add(l);
            else if (l.Trim().Length > 0 && title is not null)
                throw new HelpFormatException($"{file}:{i + 1}: text between the H1 and the first section");
        }
        if (inCode) throw new HelpFormatException($"{file}: a code block is not closed");
        return new Document(front, title ?? throw new HelpFormatException($"{file}: no H1 title"), sections);
    }

    /// <summary>H3 subsections; text before the first H3 is not allowed.</summary>
    private static List<Section> SubSections(Section section, string file)
    {
        var result = new List<Section>();
        bool inCode = false;
        for (int k = 0; k < section.Lines.Count; k++)
        {
            string l = section.Lines[k];
            if (l.TrimStart().StartsWith("```", StringComparison.Ordinal)) inCode = !inCode;
            if (!inCode && l.StartsWith("### ", StringComparison.Ordinal))
            {
                result.Add(new Section(l[4..].Trim(), section.Line + k + 1, []));
                continue;
            }
            if (result.Count > 0) result[^1].Lines.Add(l);
            else if (l.Trim().Length > 0)
                throw new HelpFormatException($"{file}:{section.Line + k + 1}: text in '## {section.Heading}' before its first '###'");
        }
        return result;
    }

    /// <summary>Paragraphs (lines joined), list items (with continuation lines) and fenced code blocks.</summary>
    public static List<Block> Blocks(IReadOnlyList<string> lines, string file, int firstLine)
    {
        var blocks = new List<Block>();
        var text = new List<string>();
        BlockKind kind = BlockKind.Paragraph;
        void Flush()
        {
            if (text.Count > 0) blocks.Add(new Block(kind, string.Join(" ", text.Select(t => t.Trim()))));
            text.Clear();
            kind = BlockKind.Paragraph;
        }
        for (int k = 0; k < lines.Count; k++)
        {
            string l = lines[k];
            string t = l.Trim();
            if (t.StartsWith("```", StringComparison.Ordinal))
            {
                Flush();
                string language = t[3..].Trim();
                var code = new List<string>();
                int start = k;
                for (k++; k < lines.Count && !lines[k].Trim().StartsWith("```", StringComparison.Ordinal); k++) code.Add(lines[k]);
                if (k >= lines.Count) throw new HelpFormatException($"{file}:{firstLine + start + 1}: code block not closed");
                blocks.Add(new Block(BlockKind.Code, string.Join("\n", code), language.Length == 0 ? null : language));
                continue;
            }
            if (t.Length == 0)
            {
                Flush();
                continue;
            }
            if (t.StartsWith("- ", StringComparison.Ordinal) || t.StartsWith("* ", StringComparison.Ordinal))
            {
                Flush();
                kind = BlockKind.ListItem;
                text.Add(t[2..]);
                continue;
            }
            if (t.StartsWith('#')) throw new HelpFormatException($"{file}:{firstLine + k + 1}: unexpected heading '{t}'");
            text.Add(t);
        }
        Flush();
        return blocks;
    }

    private static string[] Lines(string text) => text.Replace("\r\n", "\n").Split('\n');

    private static string Unquote(string s) =>
        s.Length >= 2 && (s[0] == '\'' && s[^1] == '\'' || s[0] == '"' && s[^1] == '"') ? s[1..^1] : s;

    [GeneratedRegex(@"^\[([^\]]+)\]\(([^)]*)\)$")]
    private static partial Regex LinkPattern();
}

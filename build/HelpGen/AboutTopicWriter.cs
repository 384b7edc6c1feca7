using System.Text;

namespace PCache.HelpGen;

/// <summary>
/// Writes an about_ topic as Get-Help expects a .help.txt: "TOPIC", the name indented, a blank
/// line, "SHORT DESCRIPTION" and the one-line synopsis on line 5 (Get-Help takes that line as the
/// synopsis), then each section as an upper-case heading with its text indented and wrapped at 80
/// columns. Code stays as written, indented.
/// </summary>
public static class AboutTopicWriter
{
    public const int Width = 80;
    private const string Indent = "    ";

    public static string Write(AboutTopic topic)
    {
        var sb = new StringBuilder();
        sb.Append("TOPIC\n").Append(Indent).Append(topic.Name).Append("\n\n");
        bool first = true;
        foreach (var (heading, body) in topic.Sections)
        {
            if (!first) sb.Append('\n');
            first = false;
            sb.Append(heading.ToUpperInvariant()).Append('\n');
            Block? previous = null;
            foreach (var block in body)
            {
                // A list reads as one block: no blank line between its items.
                if (previous is not null && !(previous.Kind == BlockKind.ListItem && block.Kind == BlockKind.ListItem)) sb.Append('\n');
                previous = block;
                switch (block.Kind)
                {
                    case BlockKind.Code:
                        foreach (var line in block.Text.Split('\n')) sb.Append((Indent + Indent + line).TrimEnd()).Append('\n');
                        break;
                    case BlockKind.ListItem:
                        Wrap(sb, MamlWriter.Plain(block.Text), Indent + "- ", Indent + "  ");
                        break;
                    default:
                        Wrap(sb, MamlWriter.Plain(block.Text), Indent, Indent);
                        break;
                }
            }
        }
        return sb.ToString();
    }

    private static void Wrap(StringBuilder sb, string text, string firstIndent, string indent)
    {
        var line = new StringBuilder(firstIndent);
        bool empty = true;
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!empty && line.Length + 1 + word.Length > Width)
            {
                sb.Append(line).Append('\n');
                line.Clear().Append(indent);
                empty = true;
            }
            if (!empty) line.Append(' ');
            line.Append(word);
            empty = false;
        }
        sb.Append(line).Append('\n');
    }
}

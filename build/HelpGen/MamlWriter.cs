using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace PCache.HelpGen;

/// <summary>
/// Writes MAML, the XML Get-Help reads for compiled cmdlets: one command:command per cmdlet
/// with details, description, syntax (one item per parameter set), parameters, input and
/// return types, notes, examples and related links.
/// </summary>
public static partial class MamlWriter
{
    public static readonly XNamespace Msh = "http://msh";
    public static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";
    public static readonly XNamespace Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    public static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

    public static XDocument Write(IEnumerable<CommandHelp> commands) =>
        new(new XDeclaration("1.0", "utf-8", null),
            new XElement(Msh + "helpItems",
                new XAttribute("schema", "maml"),
                new XAttribute(XNamespace.Xmlns + "maml", Maml),
                new XAttribute(XNamespace.Xmlns + "command", Command),
                new XAttribute(XNamespace.Xmlns + "dev", Dev),
                commands.OrderBy(c => c.Name, StringComparer.Ordinal).Select(CommandElement)));

    private static XElement CommandElement(CommandHelp c) =>
        new(Command + "command",
            new XElement(Command + "details",
                new XElement(Command + "name", c.Name),
                new XElement(Command + "verb", c.Verb),
                new XElement(Command + "noun", c.Noun),
                Description([new Block(BlockKind.Paragraph, c.Synopsis)])),
            Description(c.Description),
            new XElement(Command + "syntax", SyntaxSets(c).Select(set =>
                new XElement(Command + "syntaxItem",
                    new XElement(Maml + "name", c.Name),
                    InSet(c, set).Select(p => Parameter(p, p.ParameterSets.First(s => s.Name == set || s.Name == ParameterSetHelp.All)))))),
            new XElement(Command + "parameters", c.Parameters.Select(p => Parameter(p, p.ParameterSets[0]))),
            new XElement(Command + "inputTypes", c.Inputs.Select(t =>
                new XElement(Command + "inputType", TypeElement(t.TypeName), Description(t.Description)))),
            new XElement(Command + "returnValues", c.Outputs.Select(t =>
                new XElement(Command + "returnValue", TypeElement(t.TypeName), Description(t.Description)))),
            new XElement(Maml + "alertSet", new XElement(Maml + "alert", Paragraphs(c.Notes))),
            new XElement(Command + "examples", c.Examples.Select(Example)),
            new XElement(Command + "relatedLinks", RelatedLinks(c).Select(l =>
                new XElement(Maml + "navigationLink", new XElement(Maml + "linkText", l.Text), new XElement(Maml + "uri", l.Uri)))));

    /// <summary>Where the docs are published; Get-Help -Online opens the first link's URI.</summary>
    public const string OnlineBase = "https://github.com/pcache/pcache/blob/main/docs/";

    /// <summary>
    /// "Online Version" first (Get-Help -Online opens it), then the page's links. Get-Help rejects a
    /// relative URI ("The specified URI Stop-PCacheDaemon.md is not valid"), so a link to a sibling
    /// page keeps its text (the command's name, which Get-Help can look up) and no URI.
    /// </summary>
    public static IEnumerable<(string Text, string Uri)> RelatedLinks(CommandHelp c) =>
        c.RelatedLinks.Select(l => (l.Text, Uri.TryCreate(l.Uri, UriKind.Absolute, out _) ? l.Uri : ""))
            .Prepend(("Online Version:", OnlineBase + c.Name + ".md"));

    /// <summary>
    /// A .NET type name as PowerShell users read it in SYNTAX: int, not System.Nullable`1[System.Int32]
    /// (a nullable parameter only means "not given" to the cmdlet).
    /// </summary>
    public static string FriendlyType(string type)
    {
        var nullable = NullablePattern().Match(type);
        if (nullable.Success) type = nullable.Groups[1].Value;
        bool array = type.EndsWith("[]", StringComparison.Ordinal);
        string element = array ? type[..^2] : type;
        string name = element switch
        {
            "System.Int32" => "int",
            "System.Int64" => "long",
            "System.String" => "string",
            "System.Double" => "double",
            "System.Boolean" => "bool",
            "System.Object" => "object",
            "System.Management.Automation.PSObject" => "psobject",
            _ => element.StartsWith("System.", StringComparison.Ordinal) && !element[7..].Contains('.') ? element[7..] : element,
        };
        return array ? name + "[]" : name;
    }

    [GeneratedRegex(@"^System\.Nullable`1\[(.+)\]$")]
    private static partial Regex NullablePattern();

    /// <summary>The sets named in SYNTAX, default first; a command with one set uses __AllParameterSets.</summary>
    private static IEnumerable<string> SyntaxSets(CommandHelp c) =>
        c.Syntax.OrderByDescending(s => s.IsDefault).Select(s => s.SetName).DefaultIfEmpty("__AllParameterSets");

    /// <summary>A set's parameters as Get-Command lists them: positional ones by position, then the rest.</summary>
    private static IEnumerable<ParameterHelp> InSet(CommandHelp c, string set)
    {
        var members = c.Parameters
            .Select((p, index) => (p, index, binding: p.ParameterSets.FirstOrDefault(s => s.Name == set || s.Name == ParameterSetHelp.All || set == "__AllParameterSets")))
            .Where(x => x.binding is not null)
            .ToList();
        return members
            .OrderBy(x => int.TryParse(x.binding!.Position, out int pos) ? pos : int.MaxValue)
            .ThenBy(x => x.index)
            .Select(x => x.p);
    }

    private static XElement Parameter(ParameterHelp p, ParameterSetHelp binding)
    {
        var e = new XElement(Command + "parameter",
            new XAttribute("required", binding.IsRequired ? "true" : "false"),
            new XAttribute("variableLength", p.Type.EndsWith("[]", StringComparison.Ordinal) ? "true" : "false"),
            new XAttribute("globbing", p.SupportsWildcards ? "true" : "false"),
            new XAttribute("pipelineInput", PipelineInput(binding)),
            new XAttribute("position", int.TryParse(binding.Position, out int pos) ? pos.ToString(System.Globalization.CultureInfo.InvariantCulture) : "named"),
            new XAttribute("aliases", p.Aliases.Count == 0 ? "none" : string.Join(", ", p.Aliases)),
            new XElement(Maml + "name", p.Name),
            Description(p.Description));
        if (p.AcceptedValues.Count > 0)
            e.Add(new XElement(Command + "parameterValueGroup", p.AcceptedValues.Select(v =>
                new XElement(Command + "parameterValue", new XAttribute("required", "false"), new XAttribute("variableLength", "false"), v))));
        if (!p.IsSwitch)
            e.Add(new XElement(Command + "parameterValue", new XAttribute("required", "true"), new XAttribute("variableLength", "false"), FriendlyType(p.Type)));
        e.Add(TypeElement(FriendlyType(p.Type)), new XElement(Dev + "defaultValue", p.DefaultValue));
        return e;
    }

    public static string PipelineInput(ParameterSetHelp s) => (s.ValueFromPipeline, s.ValueFromPipelineByPropertyName) switch
    {
        (true, true) => "True (ByValue, ByPropertyName)",
        (true, false) => "True (ByValue)",
        (false, true) => "True (ByPropertyName)",
        _ => "False",
    };

    private static XElement TypeElement(string name) =>
        new(Dev + "type", new XElement(Maml + "name", name), new XElement(Maml + "uri"));

    private static XElement Example(Example x)
    {
        var code = x.Content.Where(b => b.Kind == BlockKind.Code).ToList();
        var first = code.FirstOrDefault();
        var remarks = x.Content.Where(b => b != first).ToList();
        return new XElement(Command + "example",
            new XElement(Maml + "title", $"--------- {x.Title} ---------"),
            new XElement(Dev + "code", first?.Text ?? ""),
            new XElement(Dev + "remarks", Paragraphs(remarks)));
    }

    private static XElement Description(IEnumerable<Block> blocks) => new(Maml + "description", Paragraphs(blocks));

    private static IEnumerable<XElement> Paragraphs(IEnumerable<Block> blocks) =>
        blocks.Select(b => new XElement(Maml + "para", b.Kind switch
        {
            BlockKind.ListItem => "- " + Plain(b.Text),
            BlockKind.Code => b.Text,
            _ => Plain(b.Text),
        }));

    /// <summary>
    /// Markdown inline syntax as plain text (Get-Help prints it as it is): links become "text (uri)",
    /// emphasis marks go; code spans keep their content untouched, wildcards and all.
    /// </summary>
    public static string Plain(string text)
    {
        var parts = text.Split('`');
        for (int i = 0; i < parts.Length; i += 2)
        {
            string s = LinkPattern().Replace(parts[i], m => m.Groups[2].Value.Length == 0 || m.Groups[2].Value == m.Groups[1].Value
                ? m.Groups[1].Value : $"{m.Groups[1].Value} ({m.Groups[2].Value})");
            s = s.Replace("**", "");
            parts[i] = EmphasisPattern().Replace(s, "$1");
        }
        return string.Concat(parts);
    }

    [GeneratedRegex(@"\[([^\]]+)\]\(([^)]*)\)")]
    private static partial Regex LinkPattern();

    [GeneratedRegex(@"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])")]
    private static partial Regex EmphasisPattern();
}

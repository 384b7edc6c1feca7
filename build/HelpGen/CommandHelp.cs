namespace PCache.HelpGen;

/// <summary>One cmdlet's help as written in its markdown file.</summary>
public sealed class CommandHelp
{
    public required string SourceFile { get; init; }
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();
    public required string Name { get; init; }
    public string Synopsis { get; set; } = "";
    public List<SyntaxBlock> Syntax { get; } = [];
    public List<Block> Description { get; } = [];
    public List<Example> Examples { get; } = [];
    public List<ParameterHelp> Parameters { get; } = [];
    public bool HasCommonParameters { get; set; }
    public List<TypeHelp> Inputs { get; } = [];
    public List<TypeHelp> Outputs { get; } = [];
    public List<Block> Notes { get; } = [];
    public List<(string Text, string Uri)> RelatedLinks { get; } = [];

    public string Verb => Name.Split('-', 2)[0];
    public string Noun => Name.Split('-', 2).ElementAtOrDefault(1) ?? "";
}

/// <summary>A paragraph, a list item or a code block.</summary>
public sealed record Block(BlockKind Kind, string Text, string? Language = null);

public enum BlockKind { Paragraph, ListItem, Code }

/// <param name="SetName">Parameter set name; __AllParameterSets for a command with one set.</param>
public sealed record SyntaxBlock(string SetName, bool IsDefault, string Code);

public sealed record Example(string Title, IReadOnlyList<Block> Content);

public sealed record TypeHelp(string TypeName, IReadOnlyList<Block> Description);

public sealed class ParameterHelp
{
    public required string Name { get; init; }
    public List<Block> Description { get; } = [];
    public string Type { get; set; } = "";
    public string DefaultValue { get; set; } = "None";
    public bool SupportsWildcards { get; set; }
    public List<string> Aliases { get; } = [];
    public List<ParameterSetHelp> ParameterSets { get; } = [];
    public bool DontShow { get; set; }
    public List<string> AcceptedValues { get; } = [];
    public string HelpMessage { get; set; } = "";

    public bool IsSwitch => Type is "System.Management.Automation.SwitchParameter";
}

/// <param name="Name">"(All)" when the parameter is in every set.</param>
/// <param name="Position">"Named" or a number.</param>
public sealed record ParameterSetHelp(string Name, string Position, bool IsRequired, bool ValueFromPipeline, bool ValueFromPipelineByPropertyName, bool ValueFromRemainingArguments)
{
    public const string All = "(All)";
}

/// <summary>An about_ topic: the H1 title and its H2 sections.</summary>
public sealed record AboutTopic(string Name, IReadOnlyList<(string Heading, IReadOnlyList<Block> Body)> Sections);

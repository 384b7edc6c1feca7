using System.Management.Automation;
using System.Reflection;

namespace PCache.Module.Tests;

/// <summary>
/// The cmdlets of the built PCache.dll as PowerShell would see them, read from raw attribute data:
/// the PowerShellStandard assembly loaded in tests is a stub whose attribute constructors discard
/// their arguments, so instantiating attributes would read empty values.
/// </summary>
internal sealed record CmdletInfo(Type Type, string Verb, string Noun, IReadOnlyDictionary<string, object?> Named, IReadOnlyList<ParameterInfo> Parameters, IReadOnlyList<OutputTypeInfo> OutputTypes)
{
    public string Name => $"{Verb}-{Noun}";

    public bool SupportsShouldProcess => Named.TryGetValue("SupportsShouldProcess", out var v) && v is true;

    /// <summary>PowerShell's default when the attribute leaves it out is Medium.</summary>
    public ConfirmImpact ConfirmImpact => Named.TryGetValue("ConfirmImpact", out var v) && v is int i ? (ConfirmImpact)i : ConfirmImpact.Medium;

    public string? DefaultParameterSetName => Named.TryGetValue("DefaultParameterSetName", out var v) ? v as string : null;

    public ParameterInfo Parameter(string name) =>
        Parameters.SingleOrDefault(p => p.Name == name) ?? throw new Xunit.Sdk.XunitException($"{Name} has no -{name}");

    /// <summary>
    /// Parameter set names as PowerShell forms them: those parameters name, plus the default set
    /// (which may hold only the parameters of every set); __AllParameterSets when none is named.
    /// </summary>
    public IReadOnlyList<string> ParameterSets =>
        Parameters.SelectMany(p => p.Sets.Select(s => s.Name))
            .Concat(DefaultParameterSetName is { } d ? [d] : [])
            .Where(n => n != ParameterInfo.AllSets).Distinct().Order(StringComparer.Ordinal)
            .DefaultIfEmpty(ParameterInfo.AllSets).ToList();
}

/// <summary>One [Parameter] attribute of a parameter: the binding in one parameter set.</summary>
internal sealed record ParameterSetBinding(string Name, bool Mandatory, int? Position, bool ValueFromPipeline, bool ValueFromPipelineByPropertyName);

internal sealed record ParameterInfo(string Name, Type Type, IReadOnlyList<ParameterSetBinding> Sets, IReadOnlyList<CustomAttributeData> Attributes)
{
    public const string AllSets = "__AllParameterSets";

    public bool ByPropertyName => Sets.Any(s => s.ValueFromPipelineByPropertyName);

    public bool ByValue => Sets.Any(s => s.ValueFromPipeline);

    public CustomAttributeData? Attribute<T>() => Attributes.SingleOrDefault(a => a.AttributeType == typeof(T));

    public IReadOnlyList<string> Aliases =>
        Attribute<AliasAttribute>() is { } a
            ? ((IEnumerable<CustomAttributeTypedArgument>)a.ConstructorArguments[0].Value!).Select(v => (string)v.Value!).ToList()
            : [];

    /// <summary>[ValidateRange(min, max)] bounds, or null.</summary>
    public (object Min, object Max)? Range =>
        Attribute<ValidateRangeAttribute>() is { } a ? (a.ConstructorArguments[0].Value!, a.ConstructorArguments[1].Value!) : null;

    public Type? CompleterType =>
        Attribute<ArgumentCompleterAttribute>() is { } a ? (Type)a.ConstructorArguments[0].Value! : null;
}

internal sealed record OutputTypeInfo(Type Type, IReadOnlyList<string> ParameterSets);

internal static class CmdletMetadata
{
    public static Assembly Assembly => typeof(PCache.Commands.PCacheCmdlet).Assembly;

    public static IReadOnlyList<CmdletInfo> All { get; } = Load();

    public static CmdletInfo Get(string name) =>
        All.SingleOrDefault(c => c.Name == name) ?? throw new Xunit.Sdk.XunitException($"PCache.dll has no cmdlet {name}");

    private static List<CmdletInfo> Load() =>
        Assembly.GetExportedTypes()
            .Where(t => typeof(Cmdlet).IsAssignableFrom(t) && !t.IsAbstract)
            .Select(Read)
            .OrderBy(c => c.Name, StringComparer.Ordinal)
            .ToList();

    private static CmdletInfo Read(Type type)
    {
        var cmdlet = type.GetCustomAttributesData().SingleOrDefault(a => a.AttributeType == typeof(CmdletAttribute))
            ?? throw new Xunit.Sdk.XunitException($"{type.FullName} derives from Cmdlet but has no [Cmdlet] attribute");
        var named = cmdlet.NamedArguments.ToDictionary(n => n.MemberName, n => n.TypedValue.Value);
        var parameters = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => (Property: p, Attributes: p.GetCustomAttributesData()))
            .Where(p => p.Attributes.Any(a => a.AttributeType == typeof(ParameterAttribute)))
            .Select(p => new ParameterInfo(p.Property.Name, p.Property.PropertyType,
                p.Attributes.Where(a => a.AttributeType == typeof(ParameterAttribute)).Select(Binding).ToList(), p.Attributes.ToList()))
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .ToList();
        var outputs = type.GetCustomAttributesData().Where(a => a.AttributeType == typeof(OutputTypeAttribute))
            .SelectMany(a =>
            {
                var sets = a.NamedArguments.Where(n => n.MemberName == "ParameterSetName")
                    .SelectMany(n => ((IEnumerable<CustomAttributeTypedArgument>)n.TypedValue.Value!).Select(v => (string)v.Value!)).ToList();
                return ((IEnumerable<CustomAttributeTypedArgument>)a.ConstructorArguments[0].Value!)
                    .Select(v => new OutputTypeInfo((Type)v.Value!, sets));
            })
            .ToList();
        return new CmdletInfo(type, (string)cmdlet.ConstructorArguments[0].Value!, (string)cmdlet.ConstructorArguments[1].Value!, named, parameters, outputs);
    }

    private static ParameterSetBinding Binding(CustomAttributeData a)
    {
        var n = a.NamedArguments.ToDictionary(x => x.MemberName, x => x.TypedValue.Value);
        return new ParameterSetBinding(
            n.TryGetValue("ParameterSetName", out var set) ? (string)set! : ParameterInfo.AllSets,
            n.TryGetValue("Mandatory", out var m) && m is true,
            n.TryGetValue("Position", out var pos) && pos is int p && p >= 0 ? p : null,
            n.TryGetValue("ValueFromPipeline", out var v) && v is true,
            n.TryGetValue("ValueFromPipelineByPropertyName", out var b) && b is true);
    }
}

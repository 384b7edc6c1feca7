using System.Management.Automation;
using System.Reflection;
using PCache.Commands;

namespace PCache.Module.Tests;

/// <summary>PowerShell's cmdlet rules, checked on the built PCache.dll's metadata.</summary>
public sealed class CmdletConventionTests
{
    /// <summary>The module's compiled surface; adding or renaming a cmdlet is a decision, so it shows here.</summary>
    public static readonly string[] Expected =
    [
        "Add-PCacheBacking", "Clear-PCacheStat", "Get-PCacheBacking", "Get-PCacheCache", "Get-PCacheDaemon", "Get-PCacheStat",
        "Initialize-PCacheCache", "Remove-PCacheBacking", "Set-PCacheBacking", "Start-PCacheCache", "Stop-PCacheCache",
        "Sync-PCacheBacking", "Test-PCacheDaemon",
    ];

    /// <summary>Verbs that change state (PSScriptAnalyzer's list plus the others with effects).</summary>
    private static readonly HashSet<string> StateChanging =
        ["Add", "Clear", "Initialize", "New", "Remove", "Reset", "Restart", "Resume", "Set", "Start", "Stop", "Suspend", "Sync", "Update"];

    /// <summary>High only where data can be lost; Low where only statistics are.</summary>
    private static readonly Dictionary<string, ConfirmImpact> Impact = new()
    {
        ["Add-PCacheBacking"] = ConfirmImpact.Medium,
        ["Clear-PCacheStat"] = ConfirmImpact.Low,
        ["Initialize-PCacheCache"] = ConfirmImpact.High,
        ["Remove-PCacheBacking"] = ConfirmImpact.High,
        ["Set-PCacheBacking"] = ConfirmImpact.Medium,
        ["Start-PCacheCache"] = ConfirmImpact.Medium,
        ["Stop-PCacheCache"] = ConfirmImpact.High,
        ["Sync-PCacheBacking"] = ConfirmImpact.Medium,
    };

    private static readonly string[] CommonParameters =
    [
        "Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ProgressAction", "ErrorVariable", "WarningVariable",
        "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable", "WhatIf", "Confirm", "UseTransaction",
    ];

    public static TheoryData<string> Cmdlets() => new(CmdletMetadata.All.Select(c => c.Name));

    /// <summary>The approved verbs are the constants of PowerShell's Verbs* classes (constants survive in the stub).</summary>
    private static HashSet<string> ApprovedVerbs() =>
        new[] { typeof(VerbsCommon), typeof(VerbsLifecycle), typeof(VerbsData), typeof(VerbsDiagnostic), typeof(VerbsCommunications), typeof(VerbsSecurity), typeof(VerbsOther) }
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!))
            .ToHashSet(StringComparer.Ordinal);

    [Fact]
    public void TheAssemblyHoldsExactlyTheExpectedCmdlets() =>
        Assert.Equal(Expected.Order(StringComparer.Ordinal), CmdletMetadata.All.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void VerbIsApprovedAndNotReserved(string name)
    {
        var c = CmdletMetadata.Get(name);
        Assert.Contains(c.Verb, ApprovedVerbs());
        Assert.DoesNotContain(c.Verb, new[] { "ForEach", "Ping", "Sort", "Tee", "Where" });
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void NounHasThePrefixIsSingularAndClassIsNamedAfterIt(string name)
    {
        var c = CmdletMetadata.Get(name);
        Assert.StartsWith("PCache", c.Noun, StringComparison.Ordinal);
        Assert.True(c.Noun.Length > "PCache".Length && char.IsUpper(c.Noun["PCache".Length]), $"{c.Noun}: PCache then a Pascal-case noun");
        Assert.False(c.Noun.EndsWith('s'), $"{c.Noun} looks plural");
        Assert.All(c.Noun, ch => Assert.True(char.IsAsciiLetterOrDigit(ch), $"{c.Noun} has a special character"));
        Assert.Equal($"PCache.Commands.{c.Verb}{c.Noun}Command", c.Type.FullName);
        Assert.True(c.Type.IsSealed, $"{c.Type.Name} should be sealed");
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void StateChangingCmdletsSupportShouldProcessWithTheRightImpact(string name)
    {
        var c = CmdletMetadata.Get(name);
        if (StateChanging.Contains(c.Verb))
        {
            Assert.True(c.SupportsShouldProcess, $"{name} changes state but does not support -WhatIf/-Confirm");
            Assert.True(Impact.ContainsKey(name), $"decide {name}'s ConfirmImpact and add it to the table");
            Assert.Equal(Impact[name], c.ConfirmImpact);
            Assert.True(c.Named.ContainsKey("ConfirmImpact"), $"{name}: say the ConfirmImpact explicitly");
        }
        else
        {
            Assert.False(c.SupportsShouldProcess, $"{name} only reads, so -WhatIf would mean nothing");
        }
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void OutputTypesArePCacheTypesOrBoolean(string name)
    {
        var c = CmdletMetadata.Get(name);
        Assert.NotEmpty(c.OutputTypes);
        foreach (var o in c.OutputTypes)
        {
            if (o.Type == typeof(bool)) continue;
            Assert.Equal("PCache", o.Type.Namespace);
            Assert.Equal("PCache.Core", o.Type.Assembly.GetName().Name);
        }
        var sets = c.ParameterSets;
        if (c.OutputTypes.Any(o => o.ParameterSets.Count > 0))
            Assert.All(sets, s => Assert.Contains(c.OutputTypes, o => o.ParameterSets.Contains(s)));
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void EveryCmdletTakesSocketPathAlsoFromThePipeline(string name)
    {
        var c = CmdletMetadata.Get(name);
        var socket = c.Parameter("SocketPath");
        Assert.Equal(typeof(string), socket.Type);
        Assert.True(socket.ByPropertyName, "objects carry SocketPath, so a pipeline stays on one daemon");
        Assert.Contains("Socket", socket.Aliases);
        Assert.True(typeof(PCacheCmdlet).IsAssignableFrom(c.Type), "derive from PCacheCmdlet: it wires Ctrl+C to cancellation");
        Assert.True(typeof(IDisposable).IsAssignableFrom(c.Type));
        Assert.NotNull(c.Type.GetMethod("StopProcessing", BindingFlags.Instance | BindingFlags.NonPublic));
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void ParametersFollowPowerShellConventions(string name)
    {
        var c = CmdletMetadata.Get(name);
        foreach (var p in c.Parameters)
        {
            Assert.DoesNotContain(p.Name, CommonParameters);
            Assert.NotEqual(typeof(bool), p.Type);
            bool plural = p.Name.EndsWith('s') && !p.Name.EndsWith("us", StringComparison.Ordinal) && !p.Name.EndsWith("ss", StringComparison.Ordinal);
            // Queues and MaxSamples name a count (pcache-utils' --queues, Get-Counter's -MaxSamples), not a list.
            Assert.False(plural && p.Name is not "Queues" and not "MaxSamples", $"-{p.Name}: parameter names are singular");
            if (p.Name is "Force" or "PassThru" or "Continuous" or "DataCrc" or "PersistOnWrite")
                Assert.Equal(typeof(SwitchParameter), p.Type);
        }
        if (c.ParameterSets.Count > 1) Assert.NotNull(c.DefaultParameterSetName);
        foreach (var set in c.ParameterSets)
            Assert.True(c.Parameters.Count(p => p.Sets.Any(s => (s.Name == set || s.Name == ParameterInfo.AllSets) && s.ValueFromPipeline)) <= 1,
                $"{name}: at most one ValueFromPipeline parameter per set");
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void IdAndPathParametersComplete(string name)
    {
        var c = CmdletMetadata.Get(name);
        foreach (var p in c.Parameters)
        {
            if (p.Name == "BackingId") Assert.Equal(typeof(BackingIdCompleter), p.CompleterType);
            if (p.Name == "CacheId") Assert.Equal(typeof(CacheIdCompleter), p.CompleterType);
        }
        if (c.Verb == "Get" && c.Parameters.Any(p => p.Name == "Path"))
        {
            var path = c.Parameter("Path");
            Assert.NotNull(path.Attribute<SupportsWildcardsAttribute>());
            Assert.Equal(c.Noun == "PCacheCache" ? typeof(CachePathCompleter) : typeof(BackingPathCompleter), path.CompleterType);
        }
    }

    [Fact]
    public void CompletersHaveTheShapePowerShellInstantiates()
    {
        foreach (var t in new[] { typeof(BackingIdCompleter), typeof(CacheIdCompleter), typeof(BackingPathCompleter), typeof(CachePathCompleter) })
        {
            Assert.True(typeof(IArgumentCompleter).IsAssignableFrom(t));
            Assert.True(t.IsPublic && t.GetConstructor(Type.EmptyTypes) is not null, $"{t.Name} needs a public parameterless constructor");
        }
    }
}

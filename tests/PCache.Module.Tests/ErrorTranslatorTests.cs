using System.Management.Automation;
using System.Net.Sockets;
using System.Reflection;
using System.Text.RegularExpressions;
using PCache.Client;
using PCache.Core;

namespace PCache.Module.Tests;

public sealed class ErrorTranslatorTests
{
    private static readonly SocketLocation Socket = new("/tmp/nowhere.sock", SocketLocation.FromParameter);

    private static IEnumerable<ErrorRule> AllRules => ErrorTranslator.ByCode.Values.Concat(ErrorTranslator.ModuleErrors.Values);

    [Fact]
    public void EveryProtocolErrorCodeHasARule()
    {
        var codes = typeof(ErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!);
        Assert.All(codes, c => Assert.True(ErrorTranslator.ByCode.ContainsKey(c), $"no rule for error code {c}"));
    }

    [Fact]
    public void EveryCategoryIsAPowerShellErrorCategoryAndNeverNotSpecified()
    {
        foreach (var rule in AllRules)
        {
            Assert.True(Enum.TryParse<ErrorCategory>(rule.Category, out var category), $"{rule.ErrorId}: '{rule.Category}' is not an ErrorCategory");
            Assert.NotEqual(ErrorCategory.NotSpecified, category);
        }
    }

    [Fact]
    public void ErrorIdsAreStablePCacheIdentifiersEachWithOneMeaning()
    {
        var byId = AllRules.GroupBy(r => r.ErrorId);
        foreach (var g in byId)
        {
            Assert.Matches(new Regex("^PCache[A-Z][A-Za-z]+$"), g.Key);
            Assert.Single(g.Select(r => (r.Category, r.Terminating)).Distinct());
        }
    }

    [Theory]
    [InlineData("backing 3", ErrorTranslator.BackingNotFoundId, 3)]
    [InlineData("cache 1", ErrorTranslator.CacheNotFoundId, 1)]
    [InlineData("/dev/shm/missing.pmem", ErrorTranslator.PathNotFoundId, "/work/path")]
    public void NotFoundTargetsWhatWasNotFound(string daemonTarget, string errorId, object target)
    {
        // A cache or backing that is not there is the target (Add-PCacheBacking -CacheId 5 once
        // targeted its -Path); a path keeps the command's target.
        var e = ErrorTranslator.Translate(new PCacheException(ErrorCodes.NotFound, "no such thing", daemonTarget), Socket, "/work/path");
        Assert.Equal(errorId, e.ErrorId);
        Assert.Equal("ObjectNotFound", e.Category);
        Assert.Equal(target, e.Target);
        Assert.False(e.Terminating);
    }

    [Fact]
    public void ADaemonErrorWithoutACommandTargetKeepsTheDaemonsTarget()
    {
        var e = ErrorTranslator.Translate(new PCacheException(ErrorCodes.Busy, "busy", "backing 7"), Socket, null);
        Assert.Equal("PCacheBusy", e.ErrorId);
        Assert.Equal("backing 7", e.Target);
    }

    [Fact]
    public void AMissingSocketMeansTheDaemonIsNotRunningAndSaysHowToStartIt()
    {
        string path = Path.Combine(Path.GetTempPath(), $"pcm-missing-{Guid.NewGuid():N}.sock");
        var location = new SocketLocation(path, SocketLocation.FromParameter);
        var thrown = Assert.Throws<PCacheException>(() => new PCacheClient(location).PingAsync().GetAwaiter().GetResult());
        var e = ErrorTranslator.Translate(thrown, location, 5);
        Assert.Equal(ErrorTranslator.DaemonNotRunningId, e.ErrorId);
        Assert.Equal("ResourceUnavailable", e.Category);
        Assert.True(e.Terminating);
        Assert.Equal(path, e.Target);
        Assert.Contains(path, e.Message);
        Assert.DoesNotContain("Cannot assign requested address", e.Message);
        Assert.Contains("Start-PCacheDaemon", e.RecommendedAction);
        Assert.Contains("-SocketPath", e.RecommendedAction);
        Assert.Contains("$env:PCACHE_SOCKET", e.RecommendedAction);
    }

    [Fact]
    public void ASocketNobodyListensOnIsReportedAsLeftBehind()
    {
        string path = Path.Combine(Path.GetTempPath(), $"pcm-stale-{Guid.NewGuid().ToString("N")[..8]}.sock");
        using var bound = new System.Net.Sockets.Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        bound.Bind(new UnixDomainSocketEndPoint(path));
        try
        {
            var location = new SocketLocation(path, SocketLocation.FromParameter);
            var thrown = Assert.Throws<PCacheException>(() => new PCacheClient(location).PingAsync().GetAwaiter().GetResult());
            var e = ErrorTranslator.Translate(thrown, location, null);
            // The id the docs promise for "not running", whether or not a socket file was left behind.
            Assert.Equal(ErrorTranslator.DaemonNotRunningId, e.ErrorId);
            Assert.Equal("ResourceUnavailable", e.Category);
            Assert.Contains("left behind", e.Message);
            Assert.True(e.Terminating);
            Assert.Contains("Start-PCacheDaemon", e.RecommendedAction);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TheEnvironmentVariableIsNamedWhenItChoseTheSocket()
    {
        var location = new SocketLocation("/tmp/pcm-env-missing.sock", SocketLocation.FromEnvironment);
        var thrown = Assert.Throws<PCacheException>(() => new PCacheClient(location).PingAsync().GetAwaiter().GetResult());
        Assert.Contains("PCACHE_SOCKET", ErrorTranslator.Translate(thrown, location, null).Message);
    }

    [Theory]
    [InlineData("--gc-percent must be 0..90, not 95", "-GcPercent must be 0..90, not 95")]
    [InlineData("/dev/pmem1 holds a PCache cache device; --format would destroy it (add --force to format anyway)",
        "/dev/pmem1 holds a PCache cache device; formatting would destroy it (add -Force to format anyway)")]
    [InlineData("/x is not a PCache cache device (it is blank); add --format to make it one",
        "/x is not a PCache cache device (it is blank); format it with Initialize-PCacheCache")]
    [InlineData("Restore it and run 'pcache backing-start --cache-id 0 --path /dev/sdb --cache-size 1G', or --force",
        "Restore it and run Add-PCacheBacking -CacheId 0 -Path /dev/sdb -CacheSize 1G, or -Force")]
    [InlineData("no backing 7 (see 'pcache backing-list')", "no backing 7 (see Get-PCacheBacking)")]
    [InlineData("or discard the data with 'pcache backing-stop --backing-id 3 --force'", "or discard the data with Remove-PCacheBacking -BackingId 3 -Force")]
    [InlineData("run 'pcache frobnicate --x' first", "run 'pcache frobnicate --x' first")]
    [InlineData("the cache's data on /tmp/a--b stays", "the cache's data on /tmp/a--b stays")]
    public void DaemonMessagesSpeakOfTheCmdletsParameters(string daemon, string powershell)
    {
        Assert.Equal(powershell, ErrorTranslator.InPowerShellTerms(daemon));
        Assert.Equal(powershell, ErrorTranslator.Translate(new PCacheException(ErrorCodes.InvalidArgument, daemon), Socket, null).Message);
    }

    [Fact]
    public void AnUnknownCodeFromANewerDaemonIsStillAnError()
    {
        var e = ErrorTranslator.Translate(new PCacheException("some_new_code", "new"), Socket, 1);
        Assert.Equal(ErrorTranslator.UnknownErrorId, e.ErrorId);
        Assert.False(e.Terminating);
    }

    [Fact]
    public void ModuleErrorsCarryTheirRuleAndAnException()
    {
        var e = ErrorTranslator.Module(ErrorTranslator.CacheHasDirtyDataId, "dirty", 0, "sync first");
        Assert.Equal("InvalidOperation", e.Category);
        Assert.Equal("sync first", e.RecommendedAction);
        Assert.Equal("dirty", e.Exception.Message);
        Assert.Equal(0, e.Target);
    }
}

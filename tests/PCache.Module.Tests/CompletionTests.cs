using PCache.Core;

namespace PCache.Module.Tests;

/// <summary>Tab-completion choices from a real daemon.</summary>
public sealed class CompletionTests(TestDaemon daemon) : IClassFixture<TestDaemon>
{
    [Fact]
    public void BackingIdsAreOfferedWithTheirPathsAndNarrowedByCacheAndPrefix()
    {
        var cache = daemon.NewCache();
        var a = daemon.NewBacking(cache);
        var other = daemon.NewBacking(daemon.NewCache());
        var client = Completion.QuickClient(daemon.SocketPath);

        var inCache = Completion.BackingIds(client, "", cache.CacheId);
        var choice = Assert.Single(inCache);
        Assert.Equal(a.BackingId.ToString(System.Globalization.CultureInfo.InvariantCulture), choice.CompletionText);
        Assert.Contains(a.Path, choice.ListItemText);
        Assert.Contains("running", choice.ToolTip);

        string prefix = other.BackingId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(Completion.BackingIds(client, prefix, null), c => c.CompletionText == prefix);
        Assert.All(Completion.BackingIds(client, prefix, null), c => Assert.StartsWith(prefix, c.CompletionText));
    }

    [Fact]
    public void CacheIdsAndPathsAreOffered()
    {
        var cache = daemon.NewCache();
        var backing = daemon.NewBacking(cache);
        var client = Completion.QuickClient(daemon.SocketPath);
        Assert.Contains(Completion.CacheIds(client, ""), c => c.CompletionText == cache.CacheId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains(Completion.CachePaths(client, "/dev/shm/pcm-"), c => c.CompletionText == cache.Path);
        Assert.Contains(Completion.BackingPaths(client, $"'{Path.GetDirectoryName(backing.Path)}"), c => c.CompletionText == backing.Path);
        Assert.Empty(Completion.CachePaths(client, "/nowhere/"));
    }
}

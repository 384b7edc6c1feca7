using PCache.Core;

namespace PCache.Module.Tests;

public sealed class SelectionTests
{
    private static readonly (int Id, string Path)[] Items = [(0, "/dev/sdb"), (1, "/dev/sdc"), (64, "/dev/nvme0n1")];

    private static Selection.Result<(int Id, string Path)> Apply(int[]? ids, string[]? paths) =>
        Selection.Apply(Items, x => x.Id, x => x.Path, ids, paths);

    [Fact]
    public void NoFilterSelectsEverything() => Assert.Equal(3, Apply(null, null).Items.Count);

    [Fact]
    public void IdsAndPathsAreEachAnyOfAndTogetherAllOf()
    {
        Assert.Equal([0, 64], Apply([0, 64], null).Items.Select(x => x.Id));
        Assert.Equal([0, 1], Apply(null, ["/dev/sd*"]).Items.Select(x => x.Id));
        Assert.Equal([0], Apply([0, 64], ["/dev/sd*"]).Items.Select(x => x.Id));
    }

    [Fact]
    public void AMissingIdOrLiteralPathIsReportedButAnEmptyWildcardIsNot()
    {
        var r = Apply([0, 5, 5], ["/dev/sdz", "/dev/vd*"]);
        Assert.Equal([5], r.MissingIds);
        Assert.Equal(["/dev/sdz"], r.MissingPaths);
        Assert.Empty(r.Items); // id 0 is selected, but its path matches neither pattern
    }
}

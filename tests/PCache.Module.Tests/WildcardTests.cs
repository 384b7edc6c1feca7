using PCache.Core;

namespace PCache.Module.Tests;

public sealed class WildcardTests
{
    [Theory]
    [InlineData("/dev/sd*", "/dev/sdb", true)]
    [InlineData("/dev/sd*", "/dev/sdb1", true)]
    [InlineData("/dev/sd*", "/dev/nvme0n1", false)]
    [InlineData("/dev/sd?", "/dev/sdb", true)]
    [InlineData("/dev/sd?", "/dev/sdb1", false)]
    [InlineData("/dev/sd[a-c]", "/dev/sdb", true)]
    [InlineData("/dev/sd[a-c]", "/dev/sdd", false)]
    [InlineData("/dev/sd[bx]", "/dev/sdx", true)]
    [InlineData("*", "", true)]
    [InlineData("*.img", "/tmp/a.img", true)]
    [InlineData("*a*b*", "xaxxbx", true)]
    [InlineData("*a*b*", "xbxxax", false)]
    [InlineData("/tmp/`[1`].img", "/tmp/[1].img", true)]
    [InlineData("/tmp/`*", "/tmp/*", true)]
    [InlineData("/tmp/`*", "/tmp/x", false)]
    [InlineData("/dev/SD*", "/dev/sdb", false)]
    [InlineData("/dev/sd[", "/dev/sd[", false)]
    public void MatchesLikePowerShellOnACaseSensitiveFileSystem(string pattern, string text, bool expected) =>
        Assert.Equal(expected, Wildcard.IsMatch(pattern, text));

    [Theory]
    [InlineData("/dev/sdb", false)]
    [InlineData("/dev/sd*", true)]
    [InlineData("/dev/sd?", true)]
    [InlineData("/dev/sd[ab]", true)]
    [InlineData("/tmp/`[1`].img", false)]
    public void KnowsALiteralFromAPattern(string pattern, bool expected) => Assert.Equal(expected, Wildcard.HasWildcards(pattern));

    [Fact]
    public void UnescapesLiterals() => Assert.Equal("/tmp/[1].img", Wildcard.Unescape("/tmp/`[1`].img"));
}

namespace PCache.Cli.Tests;

/// <summary>
/// A cache file gets all its space when the cache starts: a store into an unbacked hole of a mapped
/// file would kill the daemon with SIGBUS the day its file system fills up.
/// </summary>
public sealed class CacheFileSpaceTests
{
    [Fact]
    public void ACacheFileOnAFileSystemWithoutRoomIsRefusedAndTheDaemonServesOn()
    {
        using var box = new Sandbox();
        string mount = Path.Combine(box.Dir, "small");
        Directory.CreateDirectory(mount);
        var mounted = Tools.Run("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mount);
        Assert.True(mounted.ExitCode == 0, $"a 16 MiB tmpfs is the stand-in for a full file system: {mounted}");
        try
        {
            using var daemon = new TestDaemon(box);
            string pmem = Path.Combine(mount, "pmem");
            var r = daemon.Cli("cache-start", "--path", pmem, "--size", "64M", "--format", "--force");
            Assert.True(r.ExitCode != 0, r.ToString());
            Assert.Contains("no space to reserve", r.Output);
            Assert.False(File.Exists(pmem), "the file the daemon created for the refused cache is gone");

            // The space there is enough for a smaller cache, and that one is wholly allocated from the start.
            daemon.Json("cache-start", "--path", pmem, "--size", "8M", "--format", "--force");
            var st = Tools.Run("stat", "-c", "%b %B %s", pmem);
            var parts = st.Stdout.Split(' ', StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
            Assert.True(parts[0] * parts[1] >= parts[2], $"cache file is sparse: {st.Stdout}");
            Assert.Equal(pmem, daemon.Json("cache-list")[0].GetProperty("path").GetString());
        }
        finally
        {
            Tools.Run("umount", "-l", mount);
        }
    }
}

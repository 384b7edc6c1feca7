using System.Diagnostics;
using System.Text.RegularExpressions;

namespace PCache.Cli.Tests;

/// <summary>`pcache demo` (what `./build.sh demo` runs) shows a working export and cleans up on Ctrl+C.</summary>
public sealed partial class DemoTests
{
    [Fact]
    public async Task DemoPrintsAWorkingUriAndCleansUpOnCtrlC()
    {
        Tools.Require("nbdinfo");
        Tools.Require("qemu-io");
        using var demo = Process.Start(Tools.StartInfo(PcacheBinary.Path, ["demo"]))!;
        demo.StandardInput.Close();
        var stderr = demo.StandardError.ReadToEndAsync();
        var intro = new List<string>();
        try
        {
            // The intro ends with the live view's header; a hang guard, not a timing requirement.
            var read = Task.Run(() =>
            {
                while (demo.StandardOutput.ReadLine() is { } line)
                {
                    intro.Add(line);
                    if (line.Contains("read IOPS")) return;
                }
            });
            await read.WaitAsync(TimeSpan.FromMinutes(2)); // a hang guard, not a timing requirement
            string text = string.Join('\n', intro);
            string uri = UriRegex().Match(text).Value;
            Assert.StartsWith("nbd+unix:///pcache0?socket=", uri);
            string dir = DirRegex().Match(text).Groups[1].Value;
            string pmem = PmemRegex().Match(text).Groups[1].Value;
            Assert.True(Directory.Exists(dir), text);
            Assert.True(File.Exists(pmem), text);

            var info = Tools.Run("nbdinfo", uri);
            Assert.True(info.ExitCode == 0, info.ToString());
            // The copy-paste lines work as printed.
            foreach (var tool in new[] { "nbdinfo", "qemu-io" })
            {
                string line = intro.Single(l => l.TrimStart().StartsWith(tool + " ")).Trim();
                var r = Tools.Run("/bin/sh", "-c", line);
                Assert.True(r.ExitCode == 0 && !r.Stdout.Contains("fail", StringComparison.OrdinalIgnoreCase), $"{line}\n{r}");
            }
            string? live = demo.StandardOutput.ReadLine();
            Assert.NotNull(live);
            Assert.Contains("/", live); // used/total segments

            Tools.Signal(demo.Id, Tools.SIGINT);
            string rest = demo.StandardOutput.ReadToEnd();
            Assert.True(demo.WaitForExit(TimeSpan.FromMinutes(1)), "the demo did not stop on SIGINT");
            string errors = await stderr;
            Assert.True(demo.ExitCode == 0, $"exit {demo.ExitCode}\n{rest}\n{errors}");
            Assert.Contains("stopped; removed", rest);
            Assert.False(Directory.Exists(dir), $"{dir} is left behind");
            Assert.False(File.Exists(pmem), $"{pmem} is left behind");
        }
        finally
        {
            if (!demo.HasExited) demo.Kill(true);
        }
    }

    [GeneratedRegex(@"nbd\+unix:///pcache0\?socket=\S+nbd\.sock")]
    private static partial Regex UriRegex();

    [GeneratedRegex(@"private pcache daemon in (\S+)")]
    private static partial Regex DirRegex();

    [GeneratedRegex(@"cache device\s+(\S+)")]
    private static partial Regex PmemRegex();
}

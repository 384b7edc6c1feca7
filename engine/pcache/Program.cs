using PCache.Daemon.Cli;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace PCache.Daemon;

internal static class Program
{
    private static Task<int> Main(string[] args) => CliMain.RunAsync(args);
}

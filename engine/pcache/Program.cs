namespace PCache.Daemon;

internal static class Program
{
    // Placeholder until the daemon issue (issue 4) replaces this file. `./build.sh demo`
    // runs `bin/pcache demo`, so the demo starts working as soon as the daemon implements it.
    private static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "demo")
        {
            Console.WriteLine("pcache demo: coming with the daemon (issue 4)");
            return 0;
        }

        Console.Error.WriteLine("pcache: the daemon and CLI arrive with the daemon issue");
        return 2;
    }
}

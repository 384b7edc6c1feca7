namespace PCache.Daemon;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("pcache: the daemon and CLI arrive with the daemon issue");
        return 2;
    }
}

namespace PCache.Remote.Tests;

/// <summary>Bounded waits for liveness: generous limits, never a timing assertion.</summary>
internal static class Wait
{
    public static T Until<T>(Func<T> probe, Func<T, bool> done, string what, int seconds = 90)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var value = probe();
            if (done(value)) return value;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what} did not happen within {seconds} s (last: {value})");
            Thread.Sleep(100);
        }
    }
}

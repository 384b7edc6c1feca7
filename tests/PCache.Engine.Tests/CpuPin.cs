using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace PCache.Engine.Tests;

/// <summary>
/// Runs an action on a thread pinned to one CPU, so every write it makes goes through the same
/// per-CPU data head: the only way to lay data out in segments exactly as a test needs.
/// </summary>
internal static partial class CpuPin
{
    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_setaffinity(int pid, nint size, ref ulong mask);

    public static void Run(int cpu, Action action)
    {
        ExceptionDispatchInfo? error = null;
        var t = new Thread(() =>
        {
            try
            {
                ulong mask = 1UL << cpu;
                if (sched_setaffinity(0, sizeof(ulong), ref mask) != 0)
                    throw new InvalidOperationException($"sched_setaffinity to CPU {cpu} failed: {Marshal.GetLastPInvokeErrorMessage()}");
                Thread.Sleep(1); // let the scheduler move us before the processor id is sampled
                action();
            }
            catch (Exception e) { error = ExceptionDispatchInfo.Capture(e); }
        });
        t.Start();
        t.Join();
        error?.Throw();
    }
}

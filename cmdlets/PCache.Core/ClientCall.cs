using System.Collections.Concurrent;
using PCache.Client;

namespace PCache.Core;

/// <summary>
/// Runs one client call for an operation on the operation's thread. PowerShell only accepts
/// WriteObject/WriteError/WriteProgress from the pipeline thread, so async calls are awaited
/// synchronously here and progress is queued and replayed on this thread.
/// </summary>
internal static class ClientCall
{
    /// <summary>
    /// The call's result, or false after a non-terminating error went to the sink; terminating
    /// errors throw <see cref="PCacheCommandException"/>; Ctrl+C throws OperationCanceledException.
    /// </summary>
    public static bool TryRun<T>(PCacheClient client, ICommandSink sink, object? target, Func<CancellationToken, Task<T>> call, out T result,
        Func<PCacheError, PCacheError>? adjust = null)
    {
        try
        {
            result = call(sink.Stopping).GetAwaiter().GetResult();
            return true;
        }
        catch (PCacheException e)
        {
            Report(client, sink, target, e, adjust);
            result = default!;
            return false;
        }
    }

    /// <summary>
    /// Like <see cref="TryRun{T}"/> for a call that reports progress: the progress callback runs on a
    /// client thread, so reports are queued and handed to <paramref name="onProgress"/> here.
    /// </summary>
    public static bool TryRunWithProgress<T, TProgress>(PCacheClient client, ICommandSink sink, object? target,
        Func<IProgress<TProgress>, CancellationToken, Task<T>> call, Action<TProgress> onProgress, out T result)
    {
        var queue = new ConcurrentQueue<TProgress>();
        using var signal = new SemaphoreSlim(0);
        var reporter = new QueueingProgress<TProgress>(item =>
        {
            queue.Enqueue(item);
            signal.Release();
        });
        try
        {
            var task = call(reporter, sink.Stopping);
            while (!task.IsCompleted)
            {
                signal.Wait(TimeSpan.FromMilliseconds(200));
                while (queue.TryDequeue(out var item)) onProgress(item);
            }
            while (queue.TryDequeue(out var item)) onProgress(item);
            result = task.GetAwaiter().GetResult();
            return true;
        }
        catch (PCacheException e)
        {
            Report(client, sink, target, e);
            result = default!;
            return false;
        }
    }

    /// <param name="adjust">Lets an operation reword an error in its own terms (which switch to add...).</param>
    public static void Report(PCacheClient client, ICommandSink sink, object? target, Exception e, Func<PCacheError, PCacheError>? adjust = null)
    {
        var error = ErrorTranslator.Translate(e, client.Socket, target);
        if (adjust is not null) error = adjust(error);
        if (error.Terminating) throw new PCacheCommandException(error);
        sink.WriteError(error);
    }

    /// <summary>Calls back on the reporting thread (System.Progress would post to a context).</summary>
    private sealed class QueueingProgress<TProgress>(Action<TProgress> report) : IProgress<TProgress>
    {
        public void Report(TProgress value) => report(value);
    }
}

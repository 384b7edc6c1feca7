using PCache.Client;

namespace PCache.Core;

/// <summary>
/// Tab-completion choices for backing ids, cache ids and the paths the daemon knows. Completion
/// runs while the user types: it asks the daemon with a short timeout and returns nothing rather
/// than fail or hang.
/// </summary>
public static class Completion
{
    /// <summary>How long a completer may wait for the daemon in total.</summary>
    public static readonly TimeSpan Budget = TimeSpan.FromMilliseconds(500);

    public static PCacheClient QuickClient(string? socketPath) =>
        new(SocketLocation.Resolve(socketPath)) { ConnectTimeout = Budget, RequestTimeout = Budget };

    public static IReadOnlyList<CompletionCandidate> BackingIds(PCacheClient client, string wordToComplete, int? cacheId) =>
        Safe(() =>
        {
            var list = Run(c => client.ListBackingsAsync(cacheId, c));
            return list.Where(b => Prefix(b.BackingId.ToString(System.Globalization.CultureInfo.InvariantCulture), wordToComplete))
                .OrderBy(b => b.BackingId)
                .Select(b => new CompletionCandidate(
                    b.BackingId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    $"{b.BackingId} {b.BackingPath}",
                    $"backing {b.BackingId}: {b.BackingPath} on cache {b.CacheId}, {b.State}, {ByteSize.Format(b.DirtyBytes)} dirty"))
                .ToList();
        });

    public static IReadOnlyList<CompletionCandidate> CacheIds(PCacheClient client, string wordToComplete) =>
        Safe(() => Run(client.ListCachesAsync)
            .Where(c => Prefix(c.CacheId.ToString(System.Globalization.CultureInfo.InvariantCulture), wordToComplete))
            .OrderBy(c => c.CacheId)
            .Select(c => new CompletionCandidate(
                c.CacheId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                $"{c.CacheId} {c.Path}",
                $"cache {c.CacheId}: {c.Path}, {ByteSize.Format(c.Size)}, {ByteSize.Format(c.FreeBytes)} free, {c.Backings} backings"))
            .ToList());

    /// <param name="absoluteWord">The word made absolute against the current location (./, ../, ~/ typed), or null to match it as typed.</param>
    public static IReadOnlyList<CompletionCandidate> BackingPaths(PCacheClient client, string wordToComplete, string? absoluteWord = null) =>
        Safe(() => Paths(Run(c => client.ListBackingsAsync(null, c)).Select(b => (b.BackingPath, $"backing {b.BackingId} on cache {b.CacheId}, {b.State}")), absoluteWord ?? wordToComplete));

    public static IReadOnlyList<CompletionCandidate> CachePaths(PCacheClient client, string wordToComplete, string? absoluteWord = null) =>
        Safe(() => Paths(Run(client.ListCachesAsync).Select(c => (c.Path, $"cache {c.CacheId}, {ByteSize.Format(c.Size)}")), absoluteWord ?? wordToComplete));

    /// <summary>
    /// A relative word (not starting with /) as the absolute prefix it stands for: ~ is
    /// <paramref name="home"/>, anything else is under <paramref name="location"/>. A trailing
    /// slash is kept, since "dir/" must not match "dir2".
    /// </summary>
    public static string? Absolute(string? word, string? location, string? home)
    {
        string w = (word ?? "").Trim('\'', '"');
        if (w.StartsWith('/') || location is null) return null;
        string abs = w == "~" || w.StartsWith("~/", StringComparison.Ordinal)
            ? (home ?? "") + w[1..]
            : Path.Combine(location, w);
        string full = Path.GetFullPath(abs.Length == 0 ? "/" : abs);
        if ((w.EndsWith('/') || w.Length == 0) && !full.EndsWith('/')) full += "/";
        return full;
    }

    /// <summary>A path as PowerShell needs it typed: single-quoted when it holds spaces or special characters.</summary>
    public static string Quote(string text)
    {
        if (text.Length > 0 && text.All(ch => char.IsLetterOrDigit(ch) || ch is '/' or '.' or '_' or '-' or '+' or ':' or ',' or '=' or '@'))
            return text;
        return "'" + text.Replace("'", "''") + "'";
    }

    private static List<CompletionCandidate> Paths(IEnumerable<(string Path, string Tip)> items, string word) =>
        items.Where(i => Prefix(i.Path, word))
            .OrderBy(i => i.Path, StringComparer.Ordinal)
            .Select(i => new CompletionCandidate(Quote(i.Path), i.Path, $"{i.Path}: {i.Tip}"))
            .ToList();

    /// <summary>The word as typed may carry quotes and a trailing wildcard.</summary>
    private static bool Prefix(string candidate, string word)
    {
        string w = (word ?? "").Trim('\'', '"').TrimEnd('*');
        return candidate.StartsWith(w, StringComparison.Ordinal);
    }

    private static T Run<T>(Func<CancellationToken, Task<T>> call)
    {
        using var budget = new CancellationTokenSource(Budget);
        return call(budget.Token).GetAwaiter().GetResult();
    }

    private static IReadOnlyList<CompletionCandidate> Safe(Func<IReadOnlyList<CompletionCandidate>> produce)
    {
        try
        {
            return produce();
        }
        catch (Exception)
        {
            // Completion must never throw into the user's typing: no daemon means no suggestions.
            return [];
        }
    }
}

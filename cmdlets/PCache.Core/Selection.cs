namespace PCache.Core;

/// <summary>
/// The filters of the Get-* cmdlets, with PowerShell's conventions: ids and paths are each "any
/// of", together "all of"; an exact id or literal path that names nothing is an error (like
/// Get-Process -Id), while a wildcard that matches nothing is silently empty.
/// </summary>
public static class Selection
{
    public sealed record Result<T>(IReadOnlyList<T> Items, IReadOnlyList<int> MissingIds, IReadOnlyList<string> MissingPaths);

    public static Result<T> Apply<T>(IReadOnlyList<T> all, Func<T, int> id, Func<T, string> path, IReadOnlyCollection<int>? ids, IReadOnlyCollection<string>? paths)
    {
        var missingIds = ids?.Where(i => !all.Any(x => id(x) == i)).Distinct().ToList() ?? [];
        var missingPaths = paths?.Where(p => !Wildcard.HasWildcards(p) && !all.Any(x => path(x) == Wildcard.Unescape(p))).Distinct().ToList() ?? [];
        var items = all.Where(x =>
                (ids is null || ids.Count == 0 || ids.Contains(id(x))) &&
                (paths is null || paths.Count == 0 || paths.Any(p => Wildcard.IsMatch(p, path(x)))))
            .ToList();
        return new Result<T>(items, missingIds, missingPaths);
    }
}

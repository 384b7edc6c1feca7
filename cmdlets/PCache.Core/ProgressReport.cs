namespace PCache.Core;

/// <summary>A Write-Progress record without PowerShell types.</summary>
/// <param name="ActivityId">Distinct per operation so nested bars do not overwrite each other.</param>
/// <param name="PercentComplete">0..100, or -1 when unknown.</param>
/// <param name="Completed">Removes the bar.</param>
public sealed record ProgressReport(int ActivityId, string Activity, string Status, int PercentComplete, bool Completed = false)
{
    public const int RemoveBackingActivity = 1;
    public const int SyncBackingActivity = 2;
}

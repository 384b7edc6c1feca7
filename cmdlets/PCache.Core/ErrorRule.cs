namespace PCache.Core;

/// <summary>How one kind of failure appears in PowerShell.</summary>
/// <param name="ErrorId">Stable, no spaces, never reused: scripts and Pester match on it.</param>
/// <param name="Category">Name of a System.Management.Automation.ErrorCategory member.</param>
/// <param name="Terminating">Nothing else the command would do can succeed (e.g. the daemon is unreachable).</param>
public sealed record ErrorRule(string ErrorId, string Category, bool Terminating, string? RecommendedAction);

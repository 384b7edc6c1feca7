namespace PCache.Core;

/// <summary>
/// An error as PowerShell will show it, decided here so it can be tested: a stable error id (what
/// scripts and Pester match), an ErrorCategory by name (the cmdlet layer parses it into the enum),
/// the target object, a message, what to do next, and whether the whole command must stop.
/// </summary>
public sealed record PCacheError(
    string ErrorId,
    string Category,
    string Message,
    object? Target,
    string? RecommendedAction,
    bool Terminating,
    Exception Exception)
{
    public override string ToString() => $"{ErrorId} ({Category}): {Message}";
}

/// <summary>
/// Thrown by an operation when nothing more can succeed (daemon unreachable, protocol mismatch);
/// the cmdlet layer turns it into ThrowTerminatingError.
/// </summary>
public sealed class PCacheCommandException(PCacheError error) : Exception(error.Message, error.Exception)
{
    public PCacheError Error { get; } = error;
}

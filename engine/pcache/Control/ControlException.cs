using PCache.Client;

namespace PCache.Daemon.Control;

/// <summary>A request failed in a way the client is told about: a stable code, a message, a target.</summary>
internal sealed class ControlException(string code, string message, string? target = null) : Exception(message)
{
    public string Code { get; } = code;

    public string? Target { get; } = target;

    public static ControlException NotFound(string message, string? target = null) => new(ErrorCodes.NotFound, message, target);

    public static ControlException Invalid(string message, string? target = null) => new(ErrorCodes.InvalidArgument, message, target);

    public static ControlException Conflict(string message, string? target = null) => new(ErrorCodes.Conflict, message, target);

    public static ControlException Busy(string message, string? target = null) => new(ErrorCodes.Busy, message, target);
}

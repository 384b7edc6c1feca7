using System.Net.Sockets;
using System.Text.RegularExpressions;
using PCache.Client;

namespace PCache.Core;

/// <summary>
/// Turns the client's errors (stable protocol codes) and the module's own failures into
/// <see cref="PCacheError"/>s. The table is data so a test can check that every protocol code is
/// covered and every category exists in PowerShell's ErrorCategory.
/// </summary>
public static partial class ErrorTranslator
{
    private const string StartDaemon =
        "Start it with Start-PCacheDaemon (interactive use) or 'systemctl start pcache', or point -SocketPath or $env:PCACHE_SOCKET at the socket of a running daemon.";

    private const string VersionSkew =
        "Use the module and the daemon of the same release: compare (Get-Module PCache).Version with (Get-PCacheDaemon).Version.";

    // Ids of errors the module raises itself (not a protocol code).
    public const string BackingConflictId = "PCacheBackingConflict";
    public const string CacheConflictId = "PCacheCacheConflict";
    public const string WrongInputId = "PCacheWrongInputType";
    public const string BackingGoneId = "PCacheBackingGone";
    public const string NotABackingDeviceId = "PCacheNotABackingDevice";
    public const string CacheHasDirtyDataId = "PCacheCacheHasDirtyData";
    public const string BackingNotRunningId = "PCacheBackingNotRunning";
    public const string BackingInUseId = "PCacheBackingInUse";
    public const string SyncTimeoutId = "PCacheSyncTimeout";
    public const string CacheNotFoundId = "PCacheCacheNotFound";
    public const string BackingNotFoundId = "PCacheBackingNotFound";
    public const string PathNotFoundId = "PCachePathNotFound";
    public const string DaemonNotRunningId = "PCacheDaemonNotRunning";
    public const string DaemonNotRespondingId = "PCacheDaemonNotResponding";
    public const string DaemonConnectionFailedId = "PCacheDaemonConnectionFailed";
    public const string DaemonStartFailedId = "PCacheDaemonStartFailed";
    public const string UnexpectedErrorId = "PCacheUnexpectedError";
    public const string UnknownErrorId = "PCacheError";
    public const string NoSettingGivenId = "PCacheNoSettingGiven";

    /// <summary>Protocol code → rule. not_found and daemon_unavailable are refined by <see cref="Translate"/>.</summary>
    public static IReadOnlyDictionary<string, ErrorRule> ByCode { get; } = new Dictionary<string, ErrorRule>
    {
        [ErrorCodes.InvalidRequest] = new("PCacheInvalidRequest", "ProtocolError", true, VersionSkew),
        [ErrorCodes.UnknownVerb] = new("PCacheDaemonTooOld", "NotImplemented", true, VersionSkew),
        [ErrorCodes.InvalidArgument] = new("PCacheInvalidArgument", "InvalidArgument", false, null),
        [ErrorCodes.NotFound] = new(PathNotFoundId, "ObjectNotFound", false, "Check the path; to create a file that stands in for pmem, give -Size."),
        [ErrorCodes.Conflict] = new("PCacheConflict", "InvalidOperation", false, null),
        [ErrorCodes.BackingInUse] = new(BackingInUseId, "ResourceBusy", false,
            "Unmount the filesystem on the export and disconnect its NBD clients first; -Force disconnects them after writing back every dirty byte."),
        [ErrorCodes.IdentityMismatch] = new("PCacheIdentityMismatch", "InvalidData", false,
            "Put the original device back at that path and run Add-PCacheBacking again, or discard its cached data with Remove-PCacheBacking -Force."),
        [ErrorCodes.NoSpace] = new("PCacheNoSpace", "LimitsExceeded", false,
            "Ask for a smaller -CacheSize, or free cache space by removing a backing (FreeBytes in Get-PCacheCache shows what is left)."),
        [ErrorCodes.PermissionDenied] = new("PCacheAccessDenied", "PermissionDenied", true,
            "Run as root, as the daemon's user, or as a member of the daemon's group (\"group\" in /etc/pcache/pcache.conf)."),
        [ErrorCodes.Busy] = new("PCacheBusy", "ResourceBusy", false, "Wait for the other operation on it to finish, then try again."),
        [ErrorCodes.IoError] = new("PCacheDeviceError", "DeviceError", false, "Check the device and the kernel log (dmesg)."),
        [ErrorCodes.CorruptMedia] = new("PCacheCorruptMedia", "InvalidData", false, null),
        [ErrorCodes.Cancelled] = new("PCacheCancelled", "OperationStopped", false, null),
        [ErrorCodes.ShuttingDown] = new("PCacheDaemonShuttingDown", "ResourceUnavailable", true, StartDaemon),
        [ErrorCodes.UnsupportedVersion] = new("PCacheProtocolMismatch", "ProtocolError", true, VersionSkew),
        [ErrorCodes.DaemonUnavailable] = new(DaemonConnectionFailedId, "ConnectionError", true, StartDaemon),
        [ErrorCodes.Timeout] = new("PCacheDaemonTimeout", "OperationTimeout", true,
            "The daemon may be overloaded or hung: check its log ('journalctl -u pcache', or LogPath from Start-PCacheDaemon)."),
        [ErrorCodes.ProtocolError] = new("PCacheProtocolError", "ProtocolError", true, VersionSkew),
        [ErrorCodes.InternalError] = new("PCacheDaemonInternalError", "InvalidOperation", false,
            "This is a bug in the daemon; its log has the details. Please report it."),
    };

    /// <summary>Errors the module raises itself, by id (for the category check and the docs).</summary>
    public static IReadOnlyDictionary<string, ErrorRule> ModuleErrors { get; } = new Dictionary<string, ErrorRule>
    {
        [BackingConflictId] = new(BackingConflictId, "ResourceExists", false, null),
        [CacheConflictId] = new(CacheConflictId, "ResourceExists", false, null),
        [WrongInputId] = new(WrongInputId, "InvalidType", false, null),
        [BackingGoneId] = new(BackingGoneId, "ObjectNotFound", false, "Get-PCacheBacking lists the backings there are now."),
        [NotABackingDeviceId] = new(NotABackingDeviceId, "InvalidArgument", false, "Give the path of a block device or of a regular file."),
        [PathNotFoundId] = new(PathNotFoundId, "ObjectNotFound", false, null),
        [CacheHasDirtyDataId] = new(CacheHasDirtyDataId, "InvalidOperation", false, null),
        [BackingNotRunningId] = new(BackingNotRunningId, "InvalidOperation", false, null),
        [BackingInUseId] = new(BackingInUseId, "ResourceBusy", false,
            "Unmount the filesystem on the export and disconnect its NBD clients first; -Force disconnects them after writing back every dirty byte."),
        [SyncTimeoutId] = new(SyncTimeoutId, "OperationTimeout", false,
            "Writers may be adding dirty data as fast as it is written back; stop them, or give a larger -TimeoutSec."),
        [CacheNotFoundId] = new(CacheNotFoundId, "ObjectNotFound", false, "List the started caches with Get-PCacheCache."),
        [BackingNotFoundId] = new(BackingNotFoundId, "ObjectNotFound", false, "List the backings with Get-PCacheBacking."),
        [DaemonNotRunningId] = new(DaemonNotRunningId, "ResourceUnavailable", true, StartDaemon),
        [DaemonNotRespondingId] = new(DaemonNotRespondingId, "OperationTimeout", true, StartDaemon),
        [DaemonStartFailedId] = new(DaemonStartFailedId, "ResourceUnavailable", true, null),
        [NoSettingGivenId] = new(NoSettingGivenId, "InvalidArgument", true,
            "Give -GcPercent, -WritebackWatermark, -WritebackMaxAge or -WritebackRate."),
        // A daemon newer than the module may send a code this table does not know yet.
        [UnknownErrorId] = new(UnknownErrorId, "InvalidOperation", false, null),
        // Not a PCacheException: a bug somewhere below the cmdlet; nothing else can be trusted.
        [UnexpectedErrorId] = new(UnexpectedErrorId, "InvalidOperation", true, null),
    };

    /// <summary>
    /// The error for a failed client call. <paramref name="target"/> is what the command was working
    /// on (a backing id, a path...); connection failures target the socket path instead.
    /// </summary>
    public static PCacheError Translate(Exception exception, SocketLocation socket, object? target)
    {
        if (exception is PCacheCommandException already) return already.Error;
        if (exception is not PCacheException e)
            return Make(ModuleErrors[UnexpectedErrorId], exception.Message, target, exception);

        if (e.Code == ErrorCodes.DaemonUnavailable) return Unreachable(e, socket);
        if (e.Code == ErrorCodes.NotFound)
        {
            string t = e.Target ?? "";
            // The thing not found is the target (-CacheId 5), not what the command worked on (its -Path).
            if (t.StartsWith("cache ", StringComparison.Ordinal)) return Make(ModuleErrors[CacheNotFoundId], InPowerShellTerms(e.Message), IdOf(t) ?? target, e);
            if (t.StartsWith("backing ", StringComparison.Ordinal)) return Make(ModuleErrors[BackingNotFoundId], InPowerShellTerms(e.Message), IdOf(t) ?? target, e);
        }
        var rule = ByCode.TryGetValue(e.Code, out var r) ? r : ModuleErrors[UnknownErrorId];
        object? errorTarget = rule.Terminating ? socket.Path : target ?? e.Target;
        return Make(rule, InPowerShellTerms(e.Message), errorTarget, e);
    }

    private static object? IdOf(string target) =>
        int.TryParse(target[(target.IndexOf(' ') + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id) ? id : null;

    /// <summary>
    /// The daemon words its errors for its command line (--gc-percent, --force); a PowerShell user
    /// types -GcPercent and -Force. Options are renamed, except inside a quoted 'pcache ...'
    /// command, which stays a valid command line to copy.
    /// </summary>
    public static string InPowerShellTerms(string message)
    {
        var result = new System.Text.StringBuilder(message.Length);
        int at = 0;
        foreach (Match quoted in QuotedCommand().Matches(message))
        {
            result.Append(Rename(message[at..quoted.Index])).Append(AsCmdlet(quoted));
            at = quoted.Index + quoted.Length;
        }
        return result.Append(Rename(message[at..])).ToString();

        static string Rename(string text)
        {
            text = text.Replace("add --format to make it one", "format it with Initialize-PCacheCache", StringComparison.Ordinal)
                .Replace("--format would destroy it", "formatting would destroy it", StringComparison.Ordinal);
            return CliOption().Replace(text, m => "-" + string.Concat(m.Groups[1].Value.Split('-').Select(w => char.ToUpperInvariant(w[0]) + w[1..])));
        }
    }

    /// <summary>The cmdlet that does what a quoted 'pcache verb --options' does; an unknown verb stays a command line.</summary>
    private static string AsCmdlet(Match quoted)
    {
        string verb = quoted.Groups[1].Value, options = quoted.Groups[2].Value;
        if (!CmdletForVerb.TryGetValue(verb, out var cmdlet)) return quoted.Value;
        // Options renamed one by one: values (paths, sizes) stay as they are.
        return cmdlet + CliOption().Replace(options, m => "-" + string.Concat(m.Groups[1].Value.Split('-').Select(w => char.ToUpperInvariant(w[0]) + w[1..])));
    }

    private static readonly Dictionary<string, string> CmdletForVerb = new(StringComparer.Ordinal)
    {
        ["backing-list"] = "Get-PCacheBacking",
        ["backing-start"] = "Add-PCacheBacking",
        ["backing-stop"] = "Remove-PCacheBacking",
        ["cache-list"] = "Get-PCacheCache",
        ["cache-start"] = "Start-PCacheCache",
        ["cache-stop"] = "Stop-PCacheCache",
        ["daemon"] = "Start-PCacheDaemon",
    };

    [GeneratedRegex(@"'pcache ([a-z-]+)((?: [^']*)?)'")]
    private static partial Regex QuotedCommand();

    [GeneratedRegex(@"(?<![\w-])--([a-z]+(?:-[a-z]+)*)")]
    private static partial Regex CliOption();

    /// <summary>
    /// The daemon cannot be reached. The client's text speaks of --socket (the CLI's option);
    /// this one speaks of -SocketPath, and says how to start a daemon.
    /// </summary>
    private static PCacheError Unreachable(PCacheException e, SocketLocation socket)
    {
        string where = socket.Describe();
        var socketError = (e.InnerException as SocketException)?.SocketErrorCode;
        if (socketError is SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported && !File.Exists(socket.Path))
            return Make(ModuleErrors[DaemonNotRunningId],
                $"The PCache daemon is not running: its control socket {where} does not exist.", socket.Path, e);
        // A crashed daemon leaves its socket file behind: to the user it is simply not running.
        if (socketError is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
            return Make(ModuleErrors[DaemonNotRunningId],
                $"The PCache daemon is not running: nothing listens on {where} (the socket was left behind by a daemon that stopped).", socket.Path, e);
        if (socketError is null)
            return Make(ModuleErrors[DaemonNotRespondingId], $"The PCache daemon at {where} does not answer: {e.Message}.", socket.Path, e);
        return Make(ByCode[ErrorCodes.DaemonUnavailable], $"Cannot talk to the PCache daemon at {where}: {e.Message}.", socket.Path, e);
    }

    /// <summary>An error the module raises itself (see <see cref="ModuleErrors"/>).</summary>
    public static PCacheError Module(string errorId, string message, object? target, string? recommendedAction = null)
    {
        var rule = ModuleErrors[errorId];
        return new PCacheError(rule.ErrorId, rule.Category, message, target, recommendedAction ?? rule.RecommendedAction, rule.Terminating,
            new InvalidOperationException(message));
    }

    private static PCacheError Make(ErrorRule rule, string message, object? target, Exception e) =>
        new(rule.ErrorId, rule.Category, message, target, rule.RecommendedAction ?? (e as PCacheException)?.RecommendedAction, rule.Terminating, e);
}

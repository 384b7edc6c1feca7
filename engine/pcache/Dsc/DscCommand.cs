using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using PCache.Client;

namespace PCache.Daemon.Dsc;

/// <summary>An instance DSC cannot use, or a state that cannot be reached: the exit code says which.</summary>
internal sealed class DscException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>
/// `pcache dsc cache|backing get|set|test|export`: the DSC v3 command resources of packaging/dsc.
/// The instance is JSON on stdin; every result is one compact JSON line on stdout (test adds a
/// second line, the array of properties that differ: "stateAndDiff"); errors go to stderr.
/// Exit codes are the manifests': 0 success, 1 failed, 2 invalid input, 3 daemon unreachable,
/// 4 not reachable without losing data.
/// </summary>
internal static class DscCommand
{
    public const int Success = 0, Failed = 1, InvalidInput = 2, Unreachable = 3, WouldLoseData = 4;

    private static readonly string[] Operations = ["get", "set", "test", "export"];

    public static async Task<int> RunAsync(string[] argv, string? socket)
    {
        if (argv.Length != 2 || argv[0] is not ("cache" or "backing") || !Operations.Contains(argv[1]))
        {
            Console.Error.WriteLine("usage: pcache dsc cache|backing get|set|test|export   (the instance as JSON on stdin)");
            Console.Error.WriteLine("the DSC v3 resources PCache/Cache and PCache/Backing; see packaging/dsc and docs/module.md");
            return argv.Any(a => a is "-h" or "--help") ? Success : InvalidInput;
        }
        string who = $"pcache dsc {argv[0]} {argv[1]}";
        try
        {
            string input = await Console.In.ReadToEndAsync();
            string op = argv[1];
            return argv[0] == "cache"
                ? await CacheResource.RunAsync(op, Parse(input, DscJson.Default.CacheInstance, "PCache/Cache", op), socket)
                : await BackingResource.RunAsync(op, Parse(input, DscJson.Default.BackingInstance, "PCache/Backing", op), socket);
        }
        catch (DscException e)
        {
            Console.Error.WriteLine($"{who}: {e.Message}");
            return e.ExitCode;
        }
        catch (PCacheException e)
        {
            Console.Error.WriteLine($"{who}: {e.Message} [{e.Code}]");
            bool unreachable = e.Code is ErrorCodes.DaemonUnavailable or ErrorCodes.Timeout
                || (e.Code == ErrorCodes.PermissionDenied && e.InnerException is System.Net.Sockets.SocketException);
            return unreachable ? Unreachable : Failed;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"{who}: cancelled");
            return Failed;
        }
    }

    /// <summary>The instance on stdin; export takes none (or one, for its socket).</summary>
    private static T Parse<T>(string input, JsonTypeInfo<T> type, string resource, string op) where T : class, new()
    {
        if (string.IsNullOrWhiteSpace(input))
        {
            if (op == "export") return new T();
            throw new DscException(InvalidInput, $"no input: {op} reads a {resource} instance as JSON on stdin, e.g. {{\"path\":\"/dev/sdb\"}}");
        }
        T? value;
        try
        {
            value = JsonSerializer.Deserialize(input, type);
        }
        catch (JsonException e)
        {
            throw new DscException(InvalidInput, $"the input is not a valid {resource} instance: {e.Message}");
        }
        return value ?? throw new DscException(InvalidInput, $"the input is not a valid {resource} instance: expected a JSON object, got null");
    }

    /// <summary>Refuse properties the schema does not have; DSC's own (_name, _securityContext...) pass.</summary>
    public static void RejectUnknown(Dictionary<string, JsonElement>? extra, string resource)
    {
        var unknown = extra?.Keys.Where(k => !k.StartsWith('_')).ToList() ?? [];
        if (unknown.Count > 0)
            throw new DscException(InvalidInput, $"{resource} has no propert{(unknown.Count == 1 ? "y" : "ies")} {string.Join(", ", unknown.Select(u => $"'{u}'"))}");
    }

    public static string RequirePath(string? path, string resource)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new DscException(InvalidInput, $"{resource} needs \"path\", the instance key");
        return System.IO.Path.GetFullPath(path);
    }

    /// <summary>A backing's key: a path made absolute, or a remote URI (nbd://, rbd:) as given.</summary>
    public static string RequireBackingPath(string? path, string resource)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new DscException(InvalidInput, $"{resource} needs \"path\", the instance key");
        return PCache.Client.BackingPath.Normalize(path);
    }

    public static void Range(string name, long? value, long min, long max)
    {
        if (value is { } v && (v < min || v > max))
            throw new DscException(InvalidInput, $"\"{name}\" is {v}; it must be {(max == long.MaxValue ? $"at least {min}" : $"from {min} to {max}")}");
    }

    /// <summary>One compact JSON line on stdout.</summary>
    public static void Write<T>(T value, JsonTypeInfo<T> type)
    {
        var stdout = Console.OpenStandardOutput();
        using (var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            JsonSerializer.Serialize(w, value, type);
        stdout.Write("\n"u8);
        stdout.Flush();
    }

    /// <summary>test's output: the actual state with _inDesiredState, then the names that differ.</summary>
    public static void WriteTest<T>(T state, JsonTypeInfo<T> type, List<string> differing)
    {
        Write(state, type);
        Write(differing, DscJson.Default.ListString);
    }
}

namespace PCache.Daemon;

/// <summary>syslog priorities, as journald reads them from a "&lt;N&gt;" line prefix.</summary>
internal enum LogLevel
{
    Error = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

/// <summary>
/// Daemon logging to stderr, one event per line. Under systemd (JOURNAL_STREAM set) each line
/// starts with "&lt;N&gt;" so journald files it under the right priority and adds its own timestamp;
/// on a terminal each line carries a UTC timestamp and the level in words instead.
/// </summary>
internal static class Log
{
    private static readonly object Gate = new();
    private static readonly bool Journal = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("JOURNAL_STREAM"));

    /// <summary>Events below this priority are dropped (the demo keeps only warnings and errors).</summary>
    public static LogLevel MinimumLevel { get; set; } = LogLevel.Info;

    /// <summary>Where lines go; stderr unless the demo redirects them.</summary>
    public static TextWriter Sink { get; set; } = Console.Error;

    public static void Error(string message) => Write(LogLevel.Error, message);

    public static void Warning(string message) => Write(LogLevel.Warning, message);

    public static void Notice(string message) => Write(LogLevel.Notice, message);

    public static void Info(string message) => Write(LogLevel.Info, message);

    public static void Debug(string message) => Write(LogLevel.Debug, message);

    public static void Write(LogLevel level, string message)
    {
        if (level > MinimumLevel) return;
        // A message must stay one journal entry: embedded newlines would split it.
        message = message.ReplaceLineEndings(" | ");
        string line = Journal
            ? $"<{(int)level}>{message}"
            : $"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {Name(level)}: {message}";
        lock (Gate)
        {
            try
            {
                Sink.WriteLine(line);
                Sink.Flush();
            }
            catch (IOException)
            {
                // stderr gone (closed pipe): logging must never take the daemon down.
            }
        }
    }

    private static string Name(LogLevel level) => level switch
    {
        LogLevel.Error => "error",
        LogLevel.Warning => "warning",
        LogLevel.Notice => "notice",
        LogLevel.Info => "info",
        _ => "debug",
    };
}

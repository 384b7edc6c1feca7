namespace PCache.TestSupport;

/// <summary>What a finished process said.</summary>
public sealed record Result(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>Both streams, for messages and for tools that report on either.</summary>
    public string Output => Stdout + Stderr;

    public override string ToString() => $"exit {ExitCode}\n--- stdout:\n{Stdout}\n--- stderr:\n{Stderr}";
}

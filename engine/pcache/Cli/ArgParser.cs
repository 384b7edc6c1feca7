using System.Globalization;
using PCache.Client;

namespace PCache.Daemon.Cli;

/// <summary>A command line that cannot be run: the message names the option and what it needs.</summary>
internal sealed class UsageException(string message, string? verb = null) : Exception(message)
{
    public string? Verb { get; } = verb;
}

internal enum OptionKind
{
    Flag,
    Text,
    Size,
    Integer,
}

/// <summary>One option of a verb: long name, optional pcache-utils short name, kind, bounds and help.</summary>
internal sealed record OptionSpec(string Name, OptionKind Kind, string Help, char? Short = null, bool Required = false,
    long Min = long.MinValue, long Max = long.MaxValue, string? Value = null)
{
    public string Usage => Kind == OptionKind.Flag ? $"--{Name}" : $"--{Name} {Value ?? Placeholder}";

    private string Placeholder => Kind switch
    {
        OptionKind.Size => "SIZE",
        OptionKind.Integer => "N",
        _ => "VALUE",
    };
}

/// <summary>A verb: its name, one-line summary and options.</summary>
internal sealed record VerbSpec(string Name, string Summary, OptionSpec[] Options, bool TalksToDaemon = true)
{
    public string Synopsis => "pcache " + Name + string.Concat(Options.Select(o => o.Required ? $" {o.Usage}" : $" [{o.Usage}]"));
}

/// <summary>The options given for a verb, converted to their kinds.</summary>
internal sealed class ParsedArgs(VerbSpec verb, Dictionary<string, object> values)
{
    public VerbSpec Verb { get; } = verb;

    public bool Has(string name) => values.ContainsKey(name);

    public bool Flag(string name) => values.ContainsKey(name);

    public string? Text(string name) => values.TryGetValue(name, out var v) ? (string)v : null;

    public long? Long(string name) => values.TryGetValue(name, out var v) ? (long)v : null;

    public int? Int(string name) => values.TryGetValue(name, out var v) ? checked((int)(long)v) : null;
}

/// <summary>
/// A small, strict parser: "--name value", "--name=value" and pcache-utils' short forms ("-p
/// PATH"). Unknown options, missing values, stray arguments, bad sizes and out-of-range numbers
/// all fail with a message that names the option; nothing is guessed.
/// </summary>
internal static class ArgParser
{
    public static ParsedArgs Parse(VerbSpec verb, IReadOnlyList<string> args)
    {
        var values = new Dictionary<string, object>(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            string token = args[i];
            OptionSpec? spec;
            string? inline = null;
            if (token.StartsWith("--", StringComparison.Ordinal) && token.Length > 2)
            {
                string name = token[2..];
                int eq = name.IndexOf('=');
                if (eq >= 0)
                {
                    inline = name[(eq + 1)..];
                    name = name[..eq];
                }
                spec = verb.Options.FirstOrDefault(o => o.Name == name)
                    ?? throw new UsageException($"unknown option '--{name}'{Suggest(verb, name)}", verb.Name);
            }
            else if (token.Length == 2 && token[0] == '-' && token[1] != '-')
            {
                spec = verb.Options.FirstOrDefault(o => o.Short == token[1])
                    ?? throw new UsageException($"unknown option '{token}'", verb.Name);
            }
            else
            {
                throw new UsageException($"unexpected argument '{token}' (options start with --)", verb.Name);
            }

            if (values.ContainsKey(spec.Name)) throw new UsageException($"--{spec.Name} is given twice", verb.Name);
            if (spec.Kind == OptionKind.Flag)
            {
                if (inline is not null) throw new UsageException($"--{spec.Name} takes no value", verb.Name);
                values[spec.Name] = true;
                continue;
            }
            string? raw = inline;
            if (raw is null)
            {
                // "-5" may be a (bad) value; "--format" is the next option, so this one has no value.
                if (i + 1 >= args.Count || (args[i + 1].StartsWith("--", StringComparison.Ordinal) && args[i + 1].Length > 2))
                    throw new UsageException($"--{spec.Name} needs a value ({spec.Usage})", verb.Name);
                raw = args[++i];
            }
            values[spec.Name] = Convert(verb, spec, raw);
        }
        foreach (var required in verb.Options.Where(o => o.Required && !values.ContainsKey(o.Name)))
            throw new UsageException($"{required.Usage} is required", verb.Name);
        return new ParsedArgs(verb, values);
    }

    private static object Convert(VerbSpec verb, OptionSpec spec, string raw)
    {
        switch (spec.Kind)
        {
            case OptionKind.Size:
                if (!ByteSize.TryParse(raw, out long bytes, out string error))
                    throw new UsageException($"--{spec.Name}: {error}", verb.Name);
                if (bytes < spec.Min) throw new UsageException($"--{spec.Name} must be at least {ByteSize.Format(spec.Min)}, not {raw}", verb.Name);
                return bytes;
            case OptionKind.Integer:
                if (!long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n))
                    throw new UsageException($"--{spec.Name}: '{raw}' is not a whole number", verb.Name);
                if (n < spec.Min || n > spec.Max)
                    throw new UsageException(spec.Max >= int.MaxValue
                        ? $"--{spec.Name} must be {spec.Min} or more, not {n}"
                        : $"--{spec.Name} must be between {spec.Min} and {spec.Max}, not {n}", verb.Name);
                return n;
            default:
                if (raw.Length == 0) throw new UsageException($"--{spec.Name} needs a non-empty value", verb.Name);
                return raw;
        }
    }

    private static string Suggest(VerbSpec verb, string name)
    {
        var close = verb.Options.Select(o => o.Name).FirstOrDefault(o => o.StartsWith(name, StringComparison.Ordinal) || name.StartsWith(o, StringComparison.Ordinal));
        return close is null ? "" : $" (did you mean --{close}?)";
    }
}

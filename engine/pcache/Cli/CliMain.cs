using PCache.Client;
using PCache.Daemon.Demo;

namespace PCache.Daemon.Cli;

/// <summary>
/// `pcache VERB [options]`: `daemon` runs the engine, `demo` runs a private one, every other verb
/// is a short-lived client of the control socket. A global --socket may come before the verb.
/// </summary>
internal static class CliMain
{
    public static async Task<int> RunAsync(string[] argv)
    {
        string? verbName = null;
        try
        {
            var global = new List<string>();
            int i = 0;
            for (; i < argv.Length && argv[i].StartsWith('-'); i++)
            {
                string a = argv[i];
                if (a is "-h" or "--help")
                {
                    Console.Out.WriteLine(Verbs.Overview());
                    return 0;
                }
                if (a == "--version")
                {
                    Console.Out.WriteLine($"pcache {DaemonHost.Version} (control protocol {ControlProtocol.Version})");
                    return 0;
                }
                if (a == "--socket" && i + 1 < argv.Length)
                {
                    global.Add(a);
                    global.Add(argv[++i]);
                }
                else if (a.StartsWith("--socket=", StringComparison.Ordinal))
                {
                    global.Add(a);
                }
                else
                {
                    throw new UsageException(a == "--socket" ? "--socket needs a value (--socket PATH)" : $"unknown option '{a}' before the verb");
                }
            }
            if (i == argv.Length)
            {
                Console.Error.WriteLine(Verbs.Overview());
                Console.Error.WriteLine();
                Console.Error.WriteLine("pcache: no verb given");
                return 2;
            }

            verbName = argv[i];
            var rest = argv[(i + 1)..];
            if (verbName == "dsc")
            {
                string? socket = global.Count == 0 ? null : global.Count == 2 ? global[1] : global[0]["--socket=".Length..];
                return await Dsc.DscCommand.RunAsync(rest, socket);
            }
            if (verbName == "help")
            {
                if (rest.Length == 0) Console.Out.WriteLine(Verbs.Overview());
                else Console.Out.WriteLine(Verbs.Help(Verbs.Find(rest[0]) ?? throw UnknownVerb(rest[0])));
                return 0;
            }
            var verb = Verbs.Find(verbName) ?? throw UnknownVerb(verbName);
            if (rest.Any(a => a is "-h" or "--help"))
            {
                Console.Out.WriteLine(Verbs.Help(verb));
                return 0;
            }
            if (global.Count > 0)
            {
                if (!verb.Options.Any(o => o.Name == "socket")) throw new UsageException($"{verbName} does not take --socket", verbName);
                rest = [.. global, .. rest];
            }
            var args = ArgParser.Parse(verb, rest);
            return verb.Name switch
            {
                "daemon" => await DaemonCommand.RunAsync(args),
                "demo" => await DemoCommand.RunAsync(args),
                _ => await ClientCommands.RunAsync(args),
            };
        }
        catch (UsageException e)
        {
            string who = e.Verb is null ? "pcache" : $"pcache {e.Verb}";
            Console.Error.WriteLine($"{who}: {e.Message}");
            Console.Error.WriteLine(e.Verb is null ? "run 'pcache --help' for the verbs" : $"run 'pcache {e.Verb} --help' for its options");
            return 2;
        }
    }

    private static UsageException UnknownVerb(string name)
    {
        var close = Verbs.All.FirstOrDefault(v => v.Name.StartsWith(name, StringComparison.Ordinal) || name.StartsWith(v.Name, StringComparison.Ordinal));
        return new UsageException($"unknown verb '{name}'{(close is null ? "" : $" (did you mean '{close.Name}'?)")}; the verbs are {string.Join(", ", Verbs.All.Select(v => v.Name))}");
    }
}

using PCache.Bench;

// ./build.sh bench engine  →  dotnet run -c Release --project tests/PCache.Bench -- engine [--quick]
string what = args.Length > 0 ? args[0] : "engine";
bool quick = args.Contains("--quick");
switch (what)
{
    case "engine":
        int o = Array.IndexOf(args, "--only");
        return EngineBench.Run(quick, o >= 0 && o + 1 < args.Length ? args[o + 1] : "");
    default:
        Console.Error.WriteLine($"unknown benchmark '{what}' (known: engine)");
        return 2;
}

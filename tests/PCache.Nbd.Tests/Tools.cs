using System.Diagnostics;
using System.Text;

namespace PCache.Nbd.Tests;

/// <summary>Runs the real NBD tools. A missing tool fails the test: these tests are the interop proof.</summary>
internal static class Tools
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }

    /// <summary>Path of a required tool; throws (failing the test) when it is not installed.</summary>
    public static string Require(string tool)
    {
        if (tool.StartsWith('/'))
            return File.Exists(tool) ? tool : throw new InvalidOperationException($"required tool {tool} is not installed");
        foreach (var dir in ("/usr/bin:/usr/sbin:/bin:/sbin:" + Environment.GetEnvironmentVariable("PATH")).Split(':'))
        {
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, tool)))
                return Path.Combine(dir, tool);
        }
        throw new InvalidOperationException($"required tool '{tool}' is not installed (see the NBD test prerequisites: libnbd-bin, python3-libnbd, qemu-utils, fio, nbdkit, nbdfuse, e2fsprogs)");
    }

    public static Result Run(string tool, IEnumerable<string> args, TimeSpan? timeout = null,
        IDictionary<string, string>? env = null, string? stdin = null)
    {
        var start = new ProcessStartInfo(Require(tool))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        // nbdsh is "python3 -m nbd": a python3 earlier on PATH (pyenv) would not have the module.
        start.Environment["PATH"] = "/usr/bin:/usr/sbin:/bin:/sbin:" + Environment.GetEnvironmentVariable("PATH");
        if (env is not null)
        {
            foreach (var (key, value) in env)
                start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }
        if (!process.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new TimeoutException($"{tool} {string.Join(' ', args)} did not finish in time\n{stdout}\n{stderr}");
        }
        process.WaitForExit();
        return new Result(process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    public static Result Run(string tool, params string[] args) => Run(tool, (IEnumerable<string>)args);

    /// <summary>Runs and asserts success, returning stdout.</summary>
    public static string Check(string tool, params string[] args)
    {
        var result = Run(tool, args);
        Assert.True(result.ExitCode == 0, $"{tool} {string.Join(' ', args)} failed: {result}");
        return result.Stdout;
    }

    /// <summary>Runs a Python script with nbdsh (libnbd's Python shell); the script sees the URI as <c>uri</c>.</summary>
    public static Result Nbdsh(string uri, string script, TimeSpan? timeout = null)
    {
        Require("/usr/bin/python3");
        Require("nbdsh");
        var file = Path.Combine(Path.GetTempPath(), $"pcache-nbdsh-{Guid.NewGuid():N}.py");
        File.WriteAllText(file, script);
        try
        {
            return Run("nbdsh", ["-n", "-c", $"uri = {PythonString(uri)}", "-c", $"exec(open({PythonString(file)}).read())"], timeout);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string PythonString(string s) => "'" + s.Replace("\\", "\\\\").Replace("'", "\\'") + "'";
}

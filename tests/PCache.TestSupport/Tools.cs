using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace PCache.TestSupport;

/// <summary>
/// Runs real tools (nbdinfo, nbdsh, qemu-io, setpriv...). A missing tool fails the test loudly:
/// these tests are the proof that the daemon works with them.
/// </summary>
public static partial class Tools
{
    public const int SIGKILL = 9, SIGTERM = 15, SIGINT = 2;

    private static readonly string SearchPath = "/usr/bin:/usr/sbin:/bin:/sbin:" + Environment.GetEnvironmentVariable("PATH");

    public static string Require(string tool)
    {
        if (tool.StartsWith('/')) return File.Exists(tool) ? tool : throw new InvalidOperationException($"required tool {tool} is not installed");
        foreach (var dir in SearchPath.Split(':'))
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, tool))) return Path.Combine(dir, tool);
        throw new InvalidOperationException(
            $"required tool '{tool}' is not installed (the tests need libnbd-bin, python3-libnbd, qemu-utils, fio, nbdkit, fuse3, e2fsprogs, util-linux, curl and prometheus)");
    }

    public static ProcessStartInfo StartInfo(string program, IEnumerable<string> args, IDictionary<string, string?>? env = null)
    {
        var start = new ProcessStartInfo(program.StartsWith('/') ? program : Require(program))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        // nbdsh is "python3 -m nbd": a python3 earlier on PATH (pyenv) would lack the module.
        start.Environment["PATH"] = SearchPath;
        start.Environment.Remove("PCACHE_SOCKET");
        start.Environment.Remove("NOTIFY_SOCKET");
        start.Environment.Remove("JOURNAL_STREAM");
        if (env is not null)
            foreach (var (k, v) in env)
            {
                if (v is null) start.Environment.Remove(k);
                else start.Environment[k] = v;
            }
        return start;
    }

    public static Result Run(string program, IEnumerable<string> args, IDictionary<string, string?>? env = null, TimeSpan? timeout = null, string? stdin = null)
    {
        using var process = Process.Start(StartInfo(program, args, env))!;
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (stdin is not null) process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        var limit = timeout ?? TimeSpan.FromMinutes(2);
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish within {limit.TotalSeconds:0} s\n{stdout}\n{stderr}");
        }
        process.WaitForExit();
        return new Result(process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    public static Result Run(string program, params string[] args) => Run(program, (IEnumerable<string>)args);

    /// <summary>Starts a helper (nbdkit, nbdfuse...) in the background; its output is read and dropped.</summary>
    public static Process Start(string program, params string[] args)
    {
        var p = Process.Start(StartInfo(program, args))!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    public static string Check(string program, params string[] args)
    {
        var r = Run(program, args);
        Assert.True(r.ExitCode == 0, $"{program} {string.Join(' ', args)} failed: {r}");
        return r.Stdout;
    }

    /// <summary>Runs a Python script under nbdsh with the export's URI connected as <c>h</c>.</summary>
    public static Result Nbdsh(string uri, string script, TimeSpan? timeout = null)
    {
        Require("/usr/bin/python3");
        string file = Path.Combine(Path.GetTempPath(), $"pcache-nbdsh-{Guid.NewGuid():N}.py");
        File.WriteAllText(file, script);
        try
        {
            return Run("nbdsh", ["-u", uri, "-c", $"exec(open('{file}').read())"], timeout: timeout);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>
    /// Runs a Python script under nbdsh that connects by itself: it sees the export's URI as
    /// <c>uri</c> (for scripts that open several handles or expect the connection to fail).
    /// </summary>
    public static Result NbdshWithUri(string uri, string script, TimeSpan? timeout = null)
    {
        Require("/usr/bin/python3");
        string file = Path.Combine(Path.GetTempPath(), $"pcache-nbdsh-{Guid.NewGuid():N}.py");
        File.WriteAllText(file, script);
        try
        {
            return Run("nbdsh", ["-n", "-c", $"uri = {PythonString(uri)}", "-c", $"exec(open({PythonString(file)}).read())"], timeout: timeout);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string PythonString(string s) => "'" + s.Replace("\\", "\\\\").Replace("'", "\\'") + "'";

    /// <summary>Python that builds <c>n</c> bytes of a recognisable pattern for <c>seed</c>, as <c>pattern(seed, n)</c>.</summary>
    public const string PatternPy = """
        def pattern(seed, n):
            block = bytes(((i * 131 + seed * 7) ^ (i >> 8)) & 255 for i in range(65536))
            return (block * (n // 65536 + 1))[:n]

        """;

    public static void Signal(int pid, int signal)
    {
        if (kill(pid, signal) != 0) throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    /// <summary>Waits (30 s at most) for a helper process to be up, failing at once if it exits first.</summary>
    public static void WaitUntilUp(Func<bool> condition, Process process, string name)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (process.HasExited) throw new InvalidOperationException($"{name} exited with code {process.ExitCode}: {process.StandardError.ReadToEnd()}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{name} did not come up");
            Thread.Sleep(50);
        }
    }
}

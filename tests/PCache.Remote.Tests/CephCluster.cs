using System.Net;
using System.Net.Sockets;

namespace PCache.Remote.Tests;

/// <summary>
/// A real single-host Ceph cluster (one mon, one OSD on a sparse bluestore file) in a private
/// directory on loopback, started once for a test class by tests/ceph/cluster.sh and stopped
/// (every daemon gone) when the class is done. Tests create their own images: with the
/// exclusive-lock feature, two writers on one image would trade the lock back and forth.
/// </summary>
public sealed class CephCluster : IDisposable
{
    private readonly string _script;

    public CephCluster()
    {
        foreach (var tool in new[] { "ceph-mon", "ceph-osd", "ceph", "rbd" }) Tools.Require(tool);
        _script = Path.Combine(Repo.Root, "tests", "ceph", "cluster.sh");
        Dir = Path.Combine("/tmp", $"pcache-ceph-{Guid.NewGuid().ToString("N")[..8]}");
        var r = Tools.Run("bash", [_script, "start", Dir, FreePortBlock().ToString()], timeout: TimeSpan.FromMinutes(4));
        Assert.True(r.ExitCode == 0, $"the Ceph cluster did not start: {r}");
        Conf = r.Stdout.Trim().Split('\n').Last();
        Assert.True(File.Exists(Conf), $"no ceph.conf at {Conf}");
    }

    public string Dir { get; }

    public string Conf { get; }

    /// <summary>qemu's name for an image of this cluster, as a backing path.</summary>
    public string Spec(string image) => $"rbd:rbd/{image}:conf={Conf}";

    public void CreateImage(string image, string size) => Rbd("create", "--size", size, $"rbd/{image}");

    /// <summary>The image's bytes, read by `rbd export` (librbd, not PCache).</summary>
    public byte[] Export(string image)
    {
        string file = Path.Combine(Dir, $"{image}.export");
        File.Delete(file);
        Rbd("export", $"rbd/{image}", file);
        try { return File.ReadAllBytes(file); }
        finally { File.Delete(file); }
    }

    public string Rbd(params string[] args)
    {
        var r = Tools.Run("rbd", ["-c", Conf, .. args], timeout: TimeSpan.FromMinutes(2));
        Assert.True(r.ExitCode == 0, $"rbd {string.Join(' ', args)}: {r}");
        return r.Stdout;
    }

    /// <summary>A base port with 50 free ports above it, outside the ephemeral range.</summary>
    private static int FreePortBlock()
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            int port = 21000 + Random.Shared.Next(0, 180) * 50;
            bool free = true;
            for (int p = port; p < port + 50 && free; p++)
            {
                using var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
                try { s.Bind(new IPEndPoint(IPAddress.Loopback, p)); }
                catch (SocketException) { free = false; }
            }
            if (free) return port;
        }
        throw new InvalidOperationException("no block of 50 free ports in 21000-30000");
    }

    public void Dispose()
    {
        var r = Tools.Run("bash", [_script, "stop", Dir], timeout: TimeSpan.FromMinutes(1));
        Assert.True(r.ExitCode == 0, $"the Ceph cluster did not stop: {r}");
    }
}

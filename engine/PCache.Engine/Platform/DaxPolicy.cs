using System.Runtime.InteropServices;

namespace PCache.Engine.Platform;

/// <summary>
/// Whether stores into a DAX mapping can be made durable on this CPU. The engine's persistence
/// path is x86-64's: non-temporal stores then SFENCE, durable once they leave the CPU (ADR/eADR).
/// ARM64 needs a DC CVAP per cache line plus a DSB, which .NET does not expose and this engine does
/// not emit, so a plain store there may sit in a volatile cache at a power cut. So elsewhere than
/// x86-64: a devdax device (no kernel path flushes it) is refused; a file on a DAX filesystem is
/// mapped without MAP_SYNC and made durable through msync, for which the kernel flushes the lines.
/// </summary>
public static class DaxPolicy
{
    /// <summary>True when this engine's store+fence path is durable on DAX memory.</summary>
    public static bool StoresAreDurable(Architecture arch) => arch == Architecture.X64;

    /// <summary>Null when a devdax device may be used on <paramref name="arch"/>, else the reason for the admin.</summary>
    public static string? DevDaxRefusal(Architecture arch, string path) => StoresAreDurable(arch) ? null :
        $"{path}: devdax cache devices need x86-64 (on {arch} this engine cannot flush CPU caches to pmem; use a file on a DAX filesystem, made durable with msync)";

    /// <summary>Whether to ask for MAP_SYNC (DAX stores durable without msync) on a file or block device.</summary>
    public static bool UseMapSync(Architecture arch) => StoresAreDurable(arch);
}

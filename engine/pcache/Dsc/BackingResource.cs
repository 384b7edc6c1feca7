using PCache.Client;

namespace PCache.Daemon.Dsc;

/// <summary>
/// PCache/Backing: a backing attached to a cache device, found by its path. set attaches it,
/// changes gcPercent, the write-back pacing (writebackWatermark, writebackMaxAge, writebackRate)
/// and the cache policy (mode, sequentialCutoff, readAdmission) in place, or removes it after
/// writing back all its dirty data. A different
/// cacheId, cacheSize, queues or persistOnWrite would need removing it first: exit code 4.
/// </summary>
internal static class BackingResource
{
    private const string Resource = "PCache/Backing";

    /// <summary>Settings backing-set changes on an attached backing; everything else is fixed at attach.</summary>
    private static readonly string[] InPlace = ["gcPercent", "writebackWatermark", "writebackMaxAge", "writebackRate", "mode", "sequentialCutoff", "readAdmission"];

    public static async Task<int> RunAsync(string op, BackingInstance desired, string? socket)
    {
        DscCommand.RejectUnknown(desired.Extra, Resource);
        var client = new PCacheClient(desired.Socket ?? socket);
        if (op == "export")
        {
            foreach (var b in await client.ListBackingsAsync())
                DscCommand.Write(State(b, b.BackingPath, null), DscJson.Default.BackingInstance);
            return DscCommand.Success;
        }

        string path = DscCommand.RequireBackingPath(desired.Path, Resource);
        DscCommand.Range("cacheId", desired.CacheId, 0, int.MaxValue);
        DscCommand.Range("cacheSize", desired.CacheSize, 1, long.MaxValue);
        DscCommand.Range("gcPercent", desired.GcPercent, 0, 90);
        DscCommand.Range("queues", desired.Queues, 1, 1024);
        DscCommand.Range("writebackWatermark", desired.WritebackWatermark, 0, 100);
        DscCommand.Range("writebackMaxAge", desired.WritebackMaxAge, 0, 65535);
        DscCommand.Range("writebackRate", desired.WritebackRate, 0, uint.MaxValue * 1024L);
        DscCommand.Range("sequentialCutoff", desired.SequentialCutoff, 0, 1L << 40);
        DscCommand.Range("readAdmission", desired.ReadAdmission, 0, 15);
        if (desired.Mode is { } mode && !ChangeableInPlace.Modes.Contains(mode))
            throw new DscException(DscCommand.InvalidInput, $"\"mode\" must be one of {string.Join(", ", ChangeableInPlace.Modes)}, not \"{mode}\"");
        bool wantExist = desired.Exist ?? true;
        var actual = await FindAsync(client, path);

        switch (op)
        {
            case "get":
                DscCommand.Write(State(actual, desired.Path!, desired.Socket), DscJson.Default.BackingInstance);
                return DscCommand.Success;
            case "test":
            {
                var differing = await DifferencesAsync(client, desired, actual, wantExist);
                var state = State(actual, desired.Path!, desired.Socket);
                state.InDesiredState = differing.Count == 0;
                DscCommand.WriteTest(state, DscJson.Default.BackingInstance, differing);
                return DscCommand.Success;
            }
            default: // set
            {
                if (wantExist && actual is null)
                {
                    if (desired.CacheSize is not { } cacheSize)
                        throw new DscException(DscCommand.InvalidInput, $"{path} is not attached, and attaching it needs \"cacheSize\"");
                    actual = await client.StartBackingAsync(new BackingStartArgs
                    {
                        Path = path,
                        CacheSize = cacheSize,
                        CacheId = desired.CacheId,
                        GcPercent = desired.GcPercent,
                        Queues = desired.Queues,
                        PersistOnWrite = desired.PersistOnWrite ?? false,
                        WritebackWatermark = desired.WritebackWatermark,
                        WritebackMaxAge = desired.WritebackMaxAge,
                        WritebackRate = desired.WritebackRate,
                        Mode = desired.Mode,
                        SequentialCutoff = desired.SequentialCutoff,
                        ReadAdmission = desired.ReadAdmission,
                    });
                }
                else if (wantExist && actual is not null)
                {
                    var differing = await DifferencesAsync(client, desired, actual, wantExist);
                    var fixedAtAttach = differing.Where(d => !InPlace.Contains(d)).ToList();
                    if (fixedAtAttach.Contains("state"))
                        throw new DscException(DscCommand.Failed,
                            $"backing {actual.BackingId} ({actual.BackingPath}) is {actual.State}{(actual.Error is null ? "" : $": {actual.Error}")}; see 'pcache backing-list'");
                    if (fixedAtAttach.Count > 0)
                        throw new DscException(DscCommand.WouldLoseData,
                            $"backing {actual.BackingId} ({actual.BackingPath}) differs in {string.Join(", ", fixedAtAttach)}, which cannot change while it is attached; " +
                            "remove it first (_exist false writes back its dirty data) and attach it again");
                    if (differing.Any(InPlace.Contains))
                        actual = await client.SetBackingAsync(new BackingSetArgs
                        {
                            BackingId = actual.BackingId,
                            GcPercent = desired.GcPercent,
                            WritebackWatermark = desired.WritebackWatermark,
                            WritebackMaxAge = desired.WritebackMaxAge,
                            WritebackRate = desired.WritebackRate,
                            Mode = differing.Contains("mode") ? desired.Mode : null,
                            SequentialCutoff = differing.Contains("sequentialCutoff") ? desired.SequentialCutoff : null,
                            ReadAdmission = differing.Contains("readAdmission") ? desired.ReadAdmission : null,
                        });
                }
                else if (!wantExist && actual is not null)
                {
                    // A mounted filesystem on the export would lose its device mid-journal: refuse, as backing-stop does.
                    if (actual.NbdClients > 0)
                        throw new DscException(DscCommand.WouldLoseData,
                            $"backing {actual.BackingId} ({actual.BackingPath}) is in use: {actual.NbdClients} NBD client(s) connected to {actual.Export}; " +
                            "unmount or disconnect them, then set again");
                    // Writes back every dirty byte first; progress lines keep a long drain from timing out.
                    await client.StopBackingAsync(new BackingStopArgs { BackingId = actual.BackingId }, new Progress<DrainProgress>(_ => { }));
                    actual = null;
                }
                DscCommand.Write(State(actual, desired.Path!, desired.Socket), DscJson.Default.BackingInstance);
                return DscCommand.Success;
            }
        }
    }

    private static async Task<BackingEntry?> FindAsync(PCacheClient client, string path) =>
        (await client.ListBackingsAsync()).FirstOrDefault(b => b.BackingPath == path);

    /// <summary>The properties of the desired state the actual one does not have.</summary>
    private static async Task<List<string>> DifferencesAsync(PCacheClient client, BackingInstance desired, BackingEntry? actual, bool wantExist)
    {
        var differing = new List<string>();
        if (wantExist != (actual is not null)) differing.Add("_exist");
        if (actual is null || !wantExist) return differing;
        if (actual.State != BackingStates.Running) differing.Add("state");
        if ((desired.CacheId ?? 0) != actual.CacheId) differing.Add("cacheId");
        if (desired.CacheSize is { } size)
        {
            // The daemon rounds cacheSize up to whole segments of the cache device.
            long segment = (await client.ListCachesAsync()).FirstOrDefault(c => c.CacheId == actual.CacheId)?.SegmentSize ?? 0;
            long rounded = segment > 0 ? (size + segment - 1) / segment * segment : size;
            if (rounded != actual.CacheSize) differing.Add("cacheSize");
        }
        if (desired.GcPercent is { } gc && gc != actual.CacheGcPercent) differing.Add("gcPercent");
        if (desired.Queues is { } q && q != actual.Queues) differing.Add("queues");
        if (desired.PersistOnWrite is { } pow && pow != actual.PersistOnWrite) differing.Add("persistOnWrite");
        if (desired.WritebackWatermark is { } wm && wm != actual.WritebackWatermark) differing.Add("writebackWatermark");
        if (desired.WritebackMaxAge is { } age && age != actual.WritebackMaxAge) differing.Add("writebackMaxAge");
        if (desired.WritebackRate is { } rate && rate != actual.WritebackRate) differing.Add("writebackRate");
        if (desired.Mode is { } mode && mode != actual.Mode) differing.Add("mode");
        if (desired.SequentialCutoff is { } cutoff && cutoff != actual.SequentialCutoff) differing.Add("sequentialCutoff");
        if (desired.ReadAdmission is { } admission && admission != actual.ReadAdmission) differing.Add("readAdmission");
        return differing;
    }

    private static BackingInstance State(BackingEntry? b, string path, string? socket) => b is null
        ? new BackingInstance { Path = path, Socket = socket, Exist = false }
        : new BackingInstance
        {
            Path = path,
            CacheId = b.CacheId,
            CacheSize = b.CacheSize,
            GcPercent = b.CacheGcPercent,
            Queues = b.Queues,
            PersistOnWrite = b.PersistOnWrite,
            WritebackWatermark = b.WritebackWatermark,
            WritebackMaxAge = b.WritebackMaxAge,
            WritebackRate = b.WritebackRate,
            Mode = b.Mode,
            SequentialCutoff = b.SequentialCutoff,
            ReadAdmission = b.ReadAdmission,
            Socket = socket,
            BackingId = b.BackingId,
            State = b.State,
            Uri = b.LogicDev,
            DirtyBytes = b.DirtyBytes,
            Exist = true,
        };
}

/// <summary>The cache policy: set changes it on an attached backing, no re-attach needed.</summary>
internal static class ChangeableInPlace
{
    public static readonly string[] Modes = PCache.Engine.Cache.CacheModes.Names;
}

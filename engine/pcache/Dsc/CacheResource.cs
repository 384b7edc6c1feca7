using PCache.Client;

namespace PCache.Daemon.Dsc;

/// <summary>
/// PCache/Cache: a cache device started on the daemon, found by its path. set starts it (creating
/// and formatting a file only when the path does not exist, never formatting a device that does)
/// or stops it; a stop while its backings hold dirty data needs allowDirtyStop.
/// </summary>
internal static class CacheResource
{
    private const string Resource = "PCache/Cache";

    public static async Task<int> RunAsync(string op, CacheInstance desired, string? socket)
    {
        DscCommand.RejectUnknown(desired.Extra, Resource);
        var client = new PCacheClient(desired.Socket ?? socket);
        if (op == "export")
        {
            foreach (var c in await client.ListCachesAsync())
                DscCommand.Write(State(c, c.Path, null), DscJson.Default.CacheInstance);
            return DscCommand.Success;
        }

        string path = DscCommand.RequirePath(desired.Path, Resource);
        DscCommand.Range("size", desired.Size, 6L << 20, long.MaxValue);
        DscCommand.Range("segmentSize", desired.SegmentSize, 1L << 20, 1L << 30);
        if (desired.SegmentSize is { } seg && (seg & (seg - 1)) != 0)
            throw new DscException(DscCommand.InvalidInput, $"\"segmentSize\" is {seg}; it must be a power of two");
        bool wantExist = desired.Exist ?? true;
        var actual = await FindAsync(client, path);

        switch (op)
        {
            case "get":
                DscCommand.Write(State(actual, desired.Path!, desired.Socket), DscJson.Default.CacheInstance);
                return DscCommand.Success;
            case "test":
            {
                var differing = Differences(desired, actual, wantExist);
                var state = State(actual, desired.Path!, desired.Socket);
                state.InDesiredState = differing.Count == 0;
                DscCommand.WriteTest(state, DscJson.Default.CacheInstance, differing);
                return DscCommand.Success;
            }
            default: // set
            {
                if (wantExist && actual is null)
                {
                    await client.StartCacheAsync(new CacheStartArgs
                    {
                        Path = path,
                        Size = File.Exists(path) || Directory.Exists(path) ? null : desired.Size,
                        SegmentSize = desired.SegmentSize,
                        DataCrc = desired.DataCrc ?? false,
                    });
                    actual = await FindAsync(client, path);
                }
                else if (wantExist && actual is not null)
                {
                    var fixedAtFormat = Differences(desired, actual, wantExist);
                    if (fixedAtFormat.Count > 0)
                        throw new DscException(DscCommand.WouldLoseData,
                            $"cache {actual.CacheId} ({actual.Path}) differs in {string.Join(", ", fixedAtFormat)}, which only formatting the device changes; " +
                            "format it by hand (pcache cache-start --format) if its data may be lost");
                }
                else if (!wantExist && actual is not null)
                {
                    long dirty = (await client.ListBackingsAsync(actual.CacheId)).Sum(b => b.DirtyBytes);
                    if (dirty > 0 && desired.AllowDirtyStop != true)
                        throw new DscException(DscCommand.WouldLoseData,
                            $"cache {actual.CacheId} ({actual.Path}) holds {ByteSize.Format(dirty)} of dirty data of its backings; remove them first (PCache/Backing with _exist false) or set allowDirtyStop to keep the data in the cache device");
                    await client.StopCacheAsync(actual.CacheId);
                    actual = null;
                }
                DscCommand.Write(State(actual, desired.Path!, desired.Socket), DscJson.Default.CacheInstance);
                return DscCommand.Success;
            }
        }
    }

    private static async Task<CacheEntry?> FindAsync(PCacheClient client, string path) =>
        (await client.ListCachesAsync()).FirstOrDefault(c => c.Path == path);

    /// <summary>The properties of the desired state the actual one does not have.</summary>
    private static List<string> Differences(CacheInstance desired, CacheEntry? actual, bool wantExist)
    {
        var differing = new List<string>();
        if (wantExist != (actual is not null)) differing.Add("_exist");
        if (actual is null || !wantExist) return differing;
        if (desired.SegmentSize is { } seg && seg != actual.SegmentSize) differing.Add("segmentSize");
        if (desired.DataCrc is { } crc && crc != actual.DataCrc) differing.Add("dataCrc");
        return differing;
    }

    private static CacheInstance State(CacheEntry? c, string path, string? socket) => c is null
        ? new CacheInstance { Path = path, Socket = socket, Exist = false }
        : new CacheInstance
        {
            Path = path,
            Size = c.Size,
            SegmentSize = c.SegmentSize,
            DataCrc = c.DataCrc,
            Socket = socket,
            CacheId = c.CacheId,
            FreeBytes = c.FreeBytes,
            PersistMode = c.PersistMode,
            BackingCount = c.Backings,
            Exist = true,
        };
}

using System.Management.Automation;
using PCache.Core;

namespace PCache.Commands;

/// <summary>
/// Only statistics are lost, never data: ConfirmImpact Low. From the pipeline it takes backings
/// and statistics (-InputObject), never ids by property name: a piped cache, which has no
/// BackingId, once bound nothing and cleared every backing.
/// </summary>
[Cmdlet(VerbsCommon.Clear, "PCacheStat", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = IdSet)]
[OutputType(typeof(Stat))]
public sealed class ClearPCacheStatCommand : PCacheCmdlet
{
    private const string IdSet = "BackingId";
    private const string InputSet = "InputObject";

    /// <summary>The backings whose counters to clear; without it, every backing's.</summary>
    [Parameter(Position = 0, ParameterSetName = IdSet)]
    [ValidateRange(Limits.MinId, Limits.MaxId)]
    [ArgumentCompleter(typeof(BackingIdCompleter))]
    public int[]? BackingId { get; set; }

    /// <summary>PCache.Backing or PCache.Stat objects; anything else is an error, and nothing is cleared for it.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputSet)]
    public PSObject[] InputObject { get; set; } = [];

    /// <summary>Write the counters as they were just before they were cleared.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == IdSet)
        {
            Run((client, sink) =>
            {
                if (BackingId is null) StatOperations.Clear(client, sink, null, PassThru);
                else
                    foreach (int id in BackingId) StatOperations.Clear(client, sink, id, PassThru);
            });
            return;
        }
        foreach (var item in InputObject)
        {
            switch (item.BaseObject)
            {
                case Backing b:
                    RunOn(b.SocketPath, (client, sink) => StatOperations.Clear(client, sink, b.BackingId, PassThru));
                    break;
                case Stat s:
                    RunOn(s.SocketPath, (client, sink) => StatOperations.Clear(client, sink, s.BackingId, PassThru));
                    break;
                default:
                    WriteError(CmdletSink.ToRecord(ErrorTranslator.Module(ErrorTranslator.WrongInputId,
                        $"Clear-PCacheStat clears the counters of backings: pipe PCache.Backing or PCache.Stat objects to it, not {item.BaseObject?.GetType().FullName ?? "null"}. Nothing was cleared for it.",
                        item.BaseObject,
                        "To clear the counters of a cache's backings: Get-PCacheBacking -CacheId <id> | Clear-PCacheStat.")));
                    break;
            }
        }
    }
}

using System.Management.Automation;
using PCache.Core;

namespace PCache.Commands;

/// <summary>Only statistics are lost, never data: ConfirmImpact Low.</summary>
[Cmdlet(VerbsCommon.Clear, "PCacheStat", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(Stat))]
public sealed class ClearPCacheStatCommand : PCacheCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinId, Limits.MaxId)]
    [ArgumentCompleter(typeof(BackingIdCompleter))]
    public int[]? BackingId { get; set; }

    /// <summary>Write the counters as they were just before they were cleared.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() =>
        Run((client, sink) =>
        {
            if (BackingId is null) StatOperations.Clear(client, sink, null, PassThru);
            else
                foreach (int id in BackingId) StatOperations.Clear(client, sink, id, PassThru);
        });
}

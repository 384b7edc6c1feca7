using System.Management.Automation;
using PCache.Client;
using PCache.Core;

namespace PCache.Commands;

/// <summary>
/// Always writes the backing (new or already attached with these settings): the NBD URI is
/// what the caller needs next. GcPercent and Queues are nullable so "not given" is not compared.
/// </summary>
[Cmdlet(VerbsCommon.Add, "PCacheBacking", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(Backing))]
public sealed class AddPCacheBackingCommand : PCacheCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinCacheSize, Limits.MaxSize)]
    public long CacheSize { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinId, Limits.MaxId)]
    [ArgumentCompleter(typeof(CacheIdCompleter))]
    public int CacheId { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinGcPercent, Limits.MaxGcPercent)]
    public int? GcPercent { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinQueues, Limits.MaxQueues)]
    public int? Queues { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinWritebackWatermark, Limits.MaxWritebackWatermark)]
    public int? WritebackWatermark { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinWritebackMaxAge, Limits.MaxWritebackMaxAge)]
    public int? WritebackMaxAge { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinWritebackRate, Limits.MaxWritebackRate)]
    public long? WritebackRate { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateSet("writeback", "writethrough", "writearound", "writeonly", "passthrough")]
    public string? Mode { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinSequentialCutoff, Limits.MaxSequentialCutoff)]
    public long? SequentialCutoff { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinReadAdmission, Limits.MaxReadAdmission)]
    public int? ReadAdmission { get; set; }

    /// <summary>Not bound from the pipeline: CSV text "False" would convert to a present switch.</summary>
    [Parameter]
    public SwitchParameter PersistOnWrite { get; set; }

    protected override void ProcessRecord()
    {
        bool? persist = MyInvocation.BoundParameters.ContainsKey(nameof(PersistOnWrite)) ? PersistOnWrite.IsPresent : null;
        var request = new AddBackingRequest(BackingPath.IsRemote(Path) ? Path : ResolvePath(Path), CacheSize, CacheId, GcPercent, Queues, persist,
            WritebackWatermark, WritebackMaxAge, WritebackRate,
            Mode, SequentialCutoff, ReadAdmission);
        Run((client, sink) => BackingOperations.Add(client, sink, request));
    }
}

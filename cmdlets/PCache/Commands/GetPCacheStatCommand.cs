using System.Management.Automation;
using PCache.Core;

namespace PCache.Commands;

/// <summary>
/// A snapshot per backing, or with -Continuous one sample per backing per interval until
/// -MaxSamples or Ctrl+C. Continuous mode gathers the piped ids first and samples in
/// EndProcessing, so `Get-PCacheBacking | Get-PCacheStat -Continuous` watches them together.
/// </summary>
[Cmdlet(VerbsCommon.Get, "PCacheStat", DefaultParameterSetName = SnapshotSet)]
[OutputType(typeof(Stat), ParameterSetName = [SnapshotSet])]
[OutputType(typeof(StatSample), ParameterSetName = [ContinuousSet])]
public sealed class GetPCacheStatCommand : PCacheCmdlet
{
    private const string SnapshotSet = "Snapshot";
    private const string ContinuousSet = "Continuous";
    private readonly List<int> _watched = [];

    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(Limits.MinId, Limits.MaxId)]
    [ArgumentCompleter(typeof(BackingIdCompleter))]
    public int[]? BackingId { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = ContinuousSet)]
    public SwitchParameter Continuous { get; set; }

    /// <summary>Seconds between samples.</summary>
    [Parameter(ParameterSetName = ContinuousSet)]
    [ValidateRange(Limits.MinIntervalSeconds, Limits.MaxIntervalSeconds)]
    public int Interval { get; set; } = 1;

    /// <summary>Stop after this many intervals; without it, run until Ctrl+C.</summary>
    [Parameter(ParameterSetName = ContinuousSet)]
    [ValidateRange(Limits.MinSamples, Limits.MaxSamples)]
    public int MaxSamples { get; set; }

    protected override void ProcessRecord()
    {
        if (Continuous)
        {
            if (BackingId is not null) _watched.AddRange(BackingId);
            return;
        }
        Run((client, sink) =>
        {
            if (BackingId is null) StatOperations.Get(client, sink, null);
            else
                foreach (int id in BackingId) StatOperations.Get(client, sink, id);
        });
    }

    protected override void EndProcessing()
    {
        if (!Continuous) return;
        int? max = MyInvocation.BoundParameters.ContainsKey(nameof(MaxSamples)) ? MaxSamples : null;
        Run((client, sink) => StatOperations.Watch(client, sink, _watched, Interval, max));
    }
}

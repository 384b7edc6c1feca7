using System.Management.Automation;
using PCache.Core;

namespace PCache.Commands;

[Cmdlet(VerbsCommon.Get, "PCacheDaemon")]
[OutputType(typeof(DaemonInfo))]
public sealed class GetPCacheDaemonCommand : PCacheCmdlet
{
    protected override void ProcessRecord() => Run(DaemonOperations.Get);
}

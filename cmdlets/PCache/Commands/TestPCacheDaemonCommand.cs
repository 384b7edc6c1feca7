using System.Management.Automation;
using PCache.Core;

namespace PCache.Commands;

[Cmdlet(VerbsDiagnostic.Test, "PCacheDaemon")]
[OutputType(typeof(bool))]
public sealed class TestPCacheDaemonCommand : PCacheCmdlet
{
    protected override void ProcessRecord() => Run(DaemonOperations.Test);
}

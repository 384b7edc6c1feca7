# Runs the Pester suite for build.sh and build.ps1, in a fresh pwsh process (a loaded
# PCache.dll cannot be unloaded, so the suite never runs inside the caller's session).
# The build scripts restore Pester <Version> from NuGet into out/tools/modules/Pester/<Version>/
# and put that folder on PSModulePath. Its last output line is
# "PCACHE-PESTER <passed> <failed> <skipped>"; a missing Pester is an error (exit 1).
param(
    [Parameter(Mandatory = $true)] [string] $Path,
    [Parameter(Mandatory = $true)] [string] $ResultPath,
    [Parameter(Mandatory = $true)] [version] $Version
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
# Plain text everywhere: escape codes in failure messages break the XML report, and the child
# pwsh processes the suite starts inherit NO_COLOR.
$env:NO_COLOR = '1'
$PSStyle.OutputRendering = 'PlainText'

$pester = Get-Module -ListAvailable -Name Pester | Where-Object Version -EQ $Version | Select-Object -First 1
if (-not $pester) {
    Write-Error "Pester $Version is not on PSModulePath ($env:PSModulePath)"
    exit 1
}
Import-Module -ModuleInfo $pester
"Pester $((Get-Module Pester).Version) from $($pester.ModuleBase), PowerShell $($PSVersionTable.PSVersion)"

$null = New-Item -ItemType Directory -Force -Path (Split-Path -Parent $ResultPath)
$config = New-PesterConfiguration
$config.Run.Path = $Path
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Normal'
$config.TestResult.Enabled = $true
$config.TestResult.OutputPath = $ResultPath

$result = Invoke-Pester -Configuration $config
$failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
'PCACHE-PESTER {0} {1} {2}' -f $result.PassedCount, $failed, $result.SkippedCount

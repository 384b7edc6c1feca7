# Runs the Pester suite for build.sh and build.ps1, in a fresh pwsh process (a loaded
# PCache.dll cannot be unloaded, so the suite never runs inside the caller's session).
# Its last output line is "PCACHE-PESTER <passed> <failed> <skipped>", or
# "PCACHE-PESTER missing" when Pester 5 is not installed.
param(
    [Parameter(Mandatory = $true)] [string] $Path,
    [Parameter(Mandatory = $true)] [string] $ResultPath
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

$pester = Get-Module -ListAvailable -Name Pester |
    Where-Object { $_.Version -ge [version]'5.0' } |
    Sort-Object -Property Version -Descending |
    Select-Object -First 1
if (-not $pester) {
    'PCACHE-PESTER missing'
    exit 0
}
Import-Module -ModuleInfo $pester

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

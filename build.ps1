#!/usr/bin/env pwsh
<#
.SYNOPSIS
Builds, tests, benchmarks and demonstrates PCache from pwsh.

.DESCRIPTION
The pwsh twin of build.sh, for Debian Linux with the .NET SDK 10: the same tasks, the same
dotnet commands and the same staging target (build/Stage.proj). Missing apt packages are
installed when run as root; otherwise the exact apt-get line is printed.

  build   build everything (Release) and stage the module at out/PCache/ (default)
  test    build, run every xunit project and the Pester suite (pwsh 7.6.9 from
          .config/dotnet-tools.json, Pester 5.7.1 or $env:PCACHE_PESTER_VERSION from NuGet);
          ends with one line "N passed, N failed, N skipped"
  pester  build and run only the Pester suite, on the Pester version given (e.g. 6.2.0)
  package build and write out/packages/PCache.<version>.nupkg (for Install-PSResource)
  bench   build and run benchmarks: engine, nbd, remote or all (default); further arguments go
          to the one benchmark named, after --, e.g. ./build.ps1 bench nbd -- --quick
  demo    build and run out/PCache/bin/pcache demo
  mutants apply each persistence mutant to a scratch copy and run the crash suites on it
          (runs build.sh mutants: the driver patches files with python3 and runs suites in bash)
  clean   remove out/ and every project's bin/ and obj/

.PARAMETER Task
build (default), test, pester, package, bench, demo, mutants or clean.

.PARAMETER Arguments
For bench: engine, nbd, remote or all (default), then arguments for that benchmark.
For pester: the Pester version (default 5.7.1).
For demo: arguments passed on to pcache demo.

.EXAMPLE
./build.ps1 test

.EXAMPLE
./build.ps1 bench engine
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('build', 'test', 'pester', 'package', 'bench', 'demo', 'mutants', 'clean')]
    [string] $Task = 'build',

    [Parameter(Position = 1, ValueFromRemainingArguments = $true)]
    [string[]] $Arguments = @()
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

$Root = $PSScriptRoot
$Out = Join-Path $Root 'out'
$Stage = Join-Path $Out 'PCache'
# The Pester version the suite runs on (`./build.ps1 pester 6.2.0` picks another).
$PesterVersion = if ($env:PCACHE_PESTER_VERSION) { $env:PCACHE_PESTER_VERSION } else { '5.7.1' }
$Configuration = 'Release'
$Rid = 'linux-x64'

$env:DOTNET_NOLOGO = '1'
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_SKIP_FIRST_TIME_EXPERIENCE = '1'
# Tests, benchmarks and the Pester suite find the staged module and the native engine here.
$env:PCACHE_MODULE_DIR = $Stage
$env:PCACHE_BIN = Join-Path $Stage 'bin/pcache'

# Same lists as build.sh (nbdfuse, nbdsh, nbdcopy and nbdinfo come with libnbd-bin).
$BuildPackages = @('clang', 'zlib1g-dev')
$ToolPackages = @('nbdkit', 'libnbd-bin', 'python3-libnbd', 'qemu-utils', 'fio', 'fuse3', 'e2fsprogs', 'ansible-core')
# Ceph for the RBD backing tests and bench remote, installed without recommends.
$CephPackages = @('ceph-mon', 'ceph-osd', 'ceph-mgr', 'ceph-common', 'librbd1', 'librados2')
# Prometheus' promtool lints the daemon's metrics endpoint in the tests.
$MetricsPackages = @('prometheus', 'curl')

function Write-Step([string] $Text) {
    Write-Host "==> $Text"
}

# Installs (as root) or names (otherwise) the apt packages that are missing.
function Install-MissingPackage([string[]] $Name, [switch] $NoRecommends) {
    if (-not (Get-Command -Name dpkg-query -CommandType Application -ErrorAction SilentlyContinue)) {
        Write-Host "note: not a Debian system; make sure these are installed: $Name"
        return
    }
    $missing = @(foreach ($package in $Name) {
            $status = & dpkg-query -W -f '${db:Status-Abbrev}' $package 2>$null
            if ($LASTEXITCODE -ne 0 -or -not "$status".StartsWith('ii')) { $package }
        })
    if ($missing.Count -eq 0) { return }
    if ((& id -u) -ne '0') {
        throw "missing apt packages: $missing`ninstall them with:`n  sudo apt-get update && sudo apt-get install -y $missing"
    }
    Write-Step "apt-get install $missing"
    $null = New-Item -ItemType Directory -Force -Path $Out
    $log = Join-Path $Out 'apt.log'
    $env:DEBIAN_FRONTEND = 'noninteractive'
    & apt-get update -q *> $log
    $options = @(if ($NoRecommends) { '--no-install-recommends' })
    if ($LASTEXITCODE -eq 0) { & apt-get install -y -q @options @missing *>> $log }
    if ($LASTEXITCODE -ne 0) {
        Get-Content -LiteralPath $log -Tail 20 | Write-Host
        throw "apt-get failed (full log: $log)"
    }
}

function Assert-DotNet {
    if (-not (Get-Command -Name dotnet -CommandType Application -ErrorAction SilentlyContinue)) {
        throw 'dotnet not found: install the .NET SDK 10 (https://learn.microsoft.com/dotnet/core/install/linux-debian)'
    }
    $version = "$(& dotnet --version 2>$null)"
    $major = 0
    if (-not [int]::TryParse($version.Split('.')[0], [ref] $major) -or $major -lt 10) {
        throw "the .NET SDK 10 or later is needed; 'dotnet --version' says: $version"
    }
}

# Runs a dotnet build/publish quietly: warnings and errors only, without the repeated summary.
function Invoke-DotNetQuiet([string] $What, [string[]] $ArgumentList) {
    $stop = $false
    & dotnet @ArgumentList -nologo -v:q -tl:off | ForEach-Object {
        if ($_ -match '^Build (succeeded|FAILED)\.$') { $stop = $true }
        if (-not $stop -and "$_".Trim()) { Write-Host $_ }
    }
    if ($LASTEXITCODE -ne 0) { throw "$What failed" }
}

function Invoke-BuildTask {
    $started = Get-Date
    Install-MissingPackage $BuildPackages
    Assert-DotNet
    Write-Step "build PCache.slnx ($Configuration)"
    Invoke-DotNetQuiet 'build' (@('build', (Join-Path $Root 'PCache.slnx'), '-c', $Configuration))
    Write-Step "publish engine/pcache (native AOT, $Rid)"
    Invoke-DotNetQuiet 'publish of engine/pcache' (@('publish', (Join-Path $Root 'engine/pcache/pcache.csproj'),
            '-c', $Configuration, '-r', $Rid, '-o', (Join-Path $Out 'publish/pcache')))
    Invoke-DotNetQuiet 'publish of cmdlets/PCache' @('publish', (Join-Path $Root 'cmdlets/PCache/PCache.csproj'),
        '-c', $Configuration, '--no-build', '-o', (Join-Path $Out 'publish/module'))
    Write-Step 'stage out/PCache'
    & dotnet msbuild (Join-Path $Root 'build/Stage.proj') -t:Stage -nologo -v:m -tl:off -clp:NoSummary "--property:OutRoot=$Out/"
    if ($LASTEXITCODE -ne 0) { throw 'staging failed' }

    $magic = [byte[]]::new(4)
    $stream = [System.IO.File]::OpenRead($env:PCACHE_BIN)
    try { $null = $stream.Read($magic, 0, 4) } finally { $stream.Dispose() }
    if ($magic[0] -ne 0x7F -or $magic[1] -ne 0x45 -or $magic[2] -ne 0x4C -or $magic[3] -ne 0x46) {
        throw "$env:PCACHE_BIN is not a native ELF executable"
    }
    $files = @(Get-ChildItem -LiteralPath $Stage -Recurse -File).Count
    Write-Host ("out/PCache: {0} files staged (build took {1:N0}s)" -f $files, ((Get-Date) - $started).TotalSeconds)
}

# pwsh 7.6.9 from the local tool manifest, Pester from NuGet laid out as
# out/tools/modules/Pester/<version>/, then the suite in a fresh pwsh (as build.sh does).
# Returns passed, failed, skipped; anything that keeps the suite from running is one failure.
function Invoke-PesterSuite([string] $Version) {
    $tools = Join-Path $Out 'tools'
    $suite = Join-Path $Root 'tests/PCache.Tests.ps1'
    try {
        Write-Step 'dotnet tool restore (PowerShell, pinned in .config/dotnet-tools.json)'
        Push-Location $Root
        try {
            & dotnet tool restore | Out-Null
            if ($LASTEXITCODE -ne 0) { throw 'dotnet tool restore failed: pwsh is needed for the Pester suite' }
            $pshome = & dotnet pwsh -NoProfile -NonInteractive -Command '$PSHOME'
            if ($LASTEXITCODE -ne 0) { throw 'dotnet pwsh does not start' }
        }
        finally { Pop-Location }
        $bin = Join-Path $tools 'bin'
        $null = New-Item -ItemType Directory -Force -Path $bin
        Set-Content -LiteralPath (Join-Path $bin 'pwsh') -Value "#!/bin/sh`nexec dotnet `"$pshome/pwsh.dll`" `"`$@`"" -NoNewline
        & chmod 0755 (Join-Path $bin 'pwsh')

        $dest = Join-Path $tools "modules/Pester/$Version"
        if (-not (Test-Path -LiteralPath (Join-Path $dest 'Pester.psd1'))) {
            Write-Step "restore Pester $Version from NuGet"
            Invoke-DotNetQuiet "restore of Pester $Version" @('restore', (Join-Path $Root 'build/tools/PesterRestore.csproj'), "--property:PesterVersion=$Version")
            $packages = ((& dotnet nuget locals global-packages --list) -replace '^global-packages: ', '').Trim()
            $source = Join-Path $packages "pester/$Version/tools"
            if (-not (Test-Path -LiteralPath (Join-Path $source 'Pester.psd1'))) { throw "Pester ${Version}: $source/Pester.psd1 not found after restore" }
            $null = New-Item -ItemType Directory -Force -Path $dest
            Copy-Item -Path (Join-Path $source '*') -Destination $dest -Recurse -Force
        }
        if (-not (Test-Path -LiteralPath $suite)) { throw 'tests/PCache.Tests.ps1 is missing' }
    }
    catch {
        Write-Host "  Pester ${Version}: not runnable ($($_.Exception.Message)); counted as 1 failure"
        return @(0, 1, 0)
    }

    Write-Step "Pester ${Version}: tests/PCache.Tests.ps1"
    $resultDir = Join-Path $Out "test-results/Pester-$Version"
    $line = $null
    $saved = $env:PATH, $env:PSModulePath, $env:PCACHE_PESTER_VERSION
    try {
        $env:PATH = "$bin$([IO.Path]::PathSeparator)$env:PATH"
        $env:PSModulePath = Join-Path $tools 'modules'
        $env:PCACHE_PESTER_VERSION = $Version
        & (Join-Path $bin 'pwsh') -NoProfile -NonInteractive -File (Join-Path $Root 'build/pester.ps1') -Version $Version `
            -Path $suite -ResultPath (Join-Path $resultDir 'pester.xml') | ForEach-Object {
            if ("$_" -like 'PCACHE-PESTER *') { $line = "$_" } else { Write-Host $_ }
        }
    }
    finally { $env:PATH, $env:PSModulePath, $env:PCACHE_PESTER_VERSION = $saved }
    if ($line -match '^PCACHE-PESTER (\d+) (\d+) (\d+)$') {
        Write-Host "  Pester ${Version}: $($Matches[1]) passed, $($Matches[2]) failed, $($Matches[3]) skipped"
        return @([int]$Matches[1], [int]$Matches[2], [int]$Matches[3])
    }
    Write-Host "  Pester ${Version}: the run ended without a result (exit $LASTEXITCODE); counted as 1 failure"
    return @(0, 1, 0)
}

# out/packages/PCache.<version>.nupkg from the staged module, packed by PSResourceGet.
function Invoke-PackageTask {
    $dest = Join-Path $Out 'packages'
    Write-Step 'package out/PCache -> out/packages'
    $null = New-Item -ItemType Directory -Force -Path $dest
    Get-ChildItem -LiteralPath $dest -Filter 'PCache.*.nupkg' | Remove-Item -Force
    Compress-PSResource -Path $Stage -DestinationPath $dest
    $package = Get-ChildItem -LiteralPath $dest -Filter 'PCache.*.nupkg' | Select-Object -First 1
    if (-not $package) { throw "no PCache.*.nupkg was written to $dest" }
    Write-Host "out/packages/$($package.Name)"
}

function Invoke-PesterTask([string[]] $PesterArguments) {
    if ($PesterArguments.Count -gt 1) { throw 'pester takes at most one argument (a Pester version)' }
    $started = Get-Date
    Install-MissingPackage ($BuildPackages + $ToolPackages)
    Invoke-BuildTask
    Invoke-PackageTask
    $version = if ($PesterArguments.Count -eq 1) { $PesterArguments[0] } else { $PesterVersion }
    $counts = Invoke-PesterSuite $version
    Write-Host ('tests took {0:N0}s' -f ((Get-Date) - $started).TotalSeconds)
    Write-Host ('{0} passed, {1} failed, {2} skipped' -f $counts[0], $counts[1], $counts[2])
    if ($counts[1] -ne 0) { $script:ExitCode = 1 }
}

function Invoke-TestTask {
    $started = Get-Date
    Install-MissingPackage ($BuildPackages + $ToolPackages)
    Install-MissingPackage $CephPackages -NoRecommends
    Install-MissingPackage $MetricsPackages -NoRecommends
    Invoke-BuildTask
    $results = Join-Path $Out 'test-results'
    if (Test-Path -LiteralPath $results) { Remove-Item -LiteralPath $results -Recurse -Force }
    $null = New-Item -ItemType Directory -Force -Path $results

    Write-Step 'dotnet test PCache.slnx'
    & dotnet test (Join-Path $Root 'PCache.slnx') -c $Configuration --no-build --logger trx -tl:off "--property:PCacheTestResults=$results"
    $testExit = $LASTEXITCODE

    # Each test project writes its TRX into its own folder (see Directory.Build.props).
    Write-Step 'results'
    $passed = 0; $failed = 0; $skipped = 0
    $ns = @{ t = 'http://microsoft.com/schemas/VisualStudio/TeamTest/2010' }
    foreach ($trx in @(Get-ChildItem -LiteralPath $results -Filter '*.trx' -Recurse -File)) {
        $doc = [xml](Get-Content -LiteralPath $trx.FullName -Raw)
        $summary = (Select-Xml -Xml $doc -Namespace $ns -XPath '/t:TestRun/t:ResultSummary').Node
        $counters = (Select-Xml -Xml $doc -Namespace $ns -XPath '/t:TestRun/t:ResultSummary/t:Counters').Node
        $p = [int]$counters.GetAttribute('passed')
        $f = 0
        foreach ($name in 'failed', 'error', 'timeout', 'aborted') { $f += [int]$counters.GetAttribute($name) }
        $s = @(Select-Xml -Xml $doc -Namespace $ns -XPath '//t:UnitTestResult[@outcome="NotExecuted"]').Count
        $project = $trx.Directory.Name
        $outcome = $summary.GetAttribute('outcome')
        if ($f -eq 0 -and $outcome -in 'Failed', 'Aborted', 'Error', 'Timeout') {
            Write-Host "  ${project}: run outcome $outcome without a failed test (crashed test host?); counted as 1 failure"
            $f = 1
        }
        Write-Host "  ${project}: $p passed, $f failed, $s skipped"
        $passed += $p; $failed += $f; $skipped += $s
    }
    if ($testExit -ne 0 -and $failed -eq 0) {
        Write-Host "  dotnet test exited with code $testExit without a failed test result; counted as 1 failure"
        $failed = 1
    }

    # The Pester suite installs the package the way the README says.
    try { Invoke-PackageTask }
    catch { Write-Host "  package: $($_.Exception.Message); counted as 1 failure"; $failed += 1 }
    $counts = Invoke-PesterSuite $PesterVersion
    $passed += $counts[0]; $failed += $counts[1]; $skipped += $counts[2]

    Write-Host ('tests took {0:N0}s' -f ((Get-Date) - $started).TotalSeconds)
    # The closing line, alone and plain: parsed by people and by CI.
    Write-Host ('{0} passed, {1} failed, {2} skipped' -f $passed, $failed, $skipped)
    if ($failed -ne 0) { $script:ExitCode = 1 }
}

function Invoke-BenchTask([string[]] $BenchArguments) {
    $kind = 'all'
    $rest = @()
    if ($BenchArguments.Count -gt 0) {
        $kind = $BenchArguments[0]
        $rest = @($BenchArguments | Select-Object -Skip 1)
    }
    if ($kind -notin 'engine', 'nbd', 'remote', 'all') { throw "unknown benchmark '$kind' (expected engine, nbd, remote or all)" }
    if ($kind -eq 'all' -and $rest.Count -gt 0) {
        throw 'bench all takes no arguments (arguments go to one benchmark: bench engine|nbd|remote ARGS)'
    }
    Install-MissingPackage ($BuildPackages + $ToolPackages)
    if ($kind -in 'remote', 'all') { Install-MissingPackage $CephPackages -NoRecommends }
    Invoke-BuildTask
    if ($kind -in 'engine', 'all') {
        Write-Step 'bench engine'
        & dotnet run -c $Configuration --no-build --project (Join-Path $Root 'tests/PCache.Bench') '--' engine @rest
        if ($LASTEXITCODE -ne 0) { $script:ExitCode = 1 }
    }
    if ($kind -in 'nbd', 'all') {
        $script = Join-Path $Root 'tests/bench/nbd.sh'
        if (Test-Path -LiteralPath $script) {
            Write-Step 'bench nbd'
            & bash $script @rest
            if ($LASTEXITCODE -ne 0) { $script:ExitCode = 1 }
        }
        else {
            Write-Host 'bench nbd: tests/bench/nbd.sh is missing (not written yet)'
            $script:ExitCode = 1
        }
    }
    if ($kind -in 'remote', 'all') {
        Write-Step 'bench remote'
        & bash (Join-Path $Root 'tests/bench/remote.sh') @rest
        if ($LASTEXITCODE -ne 0) { $script:ExitCode = 1 }
    }
}

function Invoke-DemoTask([string[]] $DemoArguments) {
    Invoke-BuildTask
    & $env:PCACHE_BIN demo @DemoArguments
    $script:ExitCode = $LASTEXITCODE
}

function Invoke-CleanTask {
    if (Test-Path -LiteralPath $Out) { Remove-Item -LiteralPath $Out -Recurse -Force }
    $folders = @('engine', 'cmdlets', 'tests', 'build') | ForEach-Object { Join-Path $Root $_ } | Where-Object { Test-Path -LiteralPath $_ }
    foreach ($project in @(Get-ChildItem -LiteralPath $folders -Filter '*.csproj' -Recurse -File)) {
        foreach ($dir in 'bin', 'obj', 'TestResults') {
            $path = Join-Path $project.DirectoryName $dir
            if (Test-Path -LiteralPath $path) { Remove-Item -LiteralPath $path -Recurse -Force }
        }
    }
    Write-Host "removed out/ and every project's bin/ and obj/"
}

# Task output is never captured, so native tools write straight to the console; a task
# reports failure by setting $script:ExitCode (or by throwing).
$script:ExitCode = 0
try {
    switch ($Task) {
        'build' {
            if ($Arguments.Count -gt 0) { throw 'build takes no arguments' }
            Invoke-BuildTask
        }
        'test' {
            if ($Arguments.Count -gt 0) { throw 'test takes no arguments' }
            Invoke-TestTask
        }
        'pester' { Invoke-PesterTask $Arguments }
        'package' {
            if ($Arguments.Count -gt 0) { throw 'package takes no arguments' }
            Invoke-BuildTask
            Invoke-PackageTask
        }
        'bench' { Invoke-BenchTask $Arguments }
        'demo' { Invoke-DemoTask $Arguments }
        'mutants' {
            & bash (Join-Path $Root 'build.sh') mutants @Arguments
            $script:ExitCode = $LASTEXITCODE
        }
        'clean' { Invoke-CleanTask }
    }
    exit $script:ExitCode
}
catch {
    [Console]::Error.WriteLine("build.ps1: $($_.Exception.Message)")
    exit 1
}

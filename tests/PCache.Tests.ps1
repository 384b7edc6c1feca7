#Requires -Version 7.4
# The Pester suite (Pester 5.7 and 6.2) for the staged PCache module, driving a real daemon, real
# NBD clients, real pwsh child processes and the README as written. ./build.sh test runs it
# through build/pester.ps1 in a fresh pwsh (a loaded PCache.dll cannot be reloaded). The xunit
# project tests/PCache.Module.Tests checks the same behaviour below the PowerShell layer; this
# suite checks what only pwsh can: binding, validation, -WhatIf, error records, formatting, help,
# completion, paths through the provider, installing, and the README's module section.

BeforeDiscovery {
    $script:exported = 'Add-PCacheBacking', 'Clear-PCacheStat', 'Get-PCacheBacking', 'Get-PCacheCache', 'Get-PCacheDaemon',
        'Get-PCacheEnginePath', 'Get-PCacheStat', 'Initialize-PCacheCache', 'Remove-PCacheBacking', 'Set-PCacheBacking',
        'Start-PCacheCache', 'Start-PCacheDaemon', 'Stop-PCacheCache', 'Stop-PCacheDaemon', 'Sync-PCacheBacking',
        'Test-PCacheDaemon'
}

BeforeAll {
    $script:repo = Split-Path -Parent $PSScriptRoot
    $moduleDir = if ($env:PCACHE_MODULE_DIR) { $env:PCACHE_MODULE_DIR } else { Join-Path $script:repo 'out/PCache' }
    $script:moduleDir = (Resolve-Path -LiteralPath $moduleDir).ProviderPath
    $script:engine = Join-Path $script:moduleDir 'bin/pcache'
    # On PSModulePath, Get-Help also finds the module's about_ topic, as it does once installed.
    $script:savedModulePath = $env:PSModulePath
    $env:PSModulePath = (Split-Path -Parent $script:moduleDir) + [System.IO.Path]::PathSeparator + $env:PSModulePath
    Import-Module (Join-Path $script:moduleDir 'PCache.psd1') -Force -ErrorAction Stop

    $script:savedSocket = $env:PCACHE_SOCKET
    $script:savedHome = $env:HOME
    $script:savedLocation = Get-Location
    $script:fsProvider = Get-PSProvider FileSystem
    $script:savedProviderHome = $script:fsProvider.Home
    $id = [guid]::NewGuid().ToString('N').Substring(0, 8)
    $script:id = $id
    # Unix socket paths must stay under 108 bytes: a short directory in /tmp, not $TestDrive.
    $script:box = Join-Path '/tmp' "pcm-pester-$id"
    $null = New-Item -ItemType Directory -Path $script:box
    # The sandbox is the user's home for this suite: ~ in paths, and child pwsh processes.
    $script:userHome = Join-Path $script:box 'home'
    $null = New-Item -ItemType Directory -Path $script:userHome
    $env:HOME = $script:userHome
    $script:fsProvider.Home = $script:userHome
    $script:socket = Join-Path $script:box 'pcache.sock'
    $script:missingSocket = Join-Path $script:box 'nobody.sock'
    $script:pmem = "/dev/shm/pcm-pester-$id.pmem"
    $script:daemon = Start-PCacheDaemon -SocketPath $script:socket -Confirm:$false -ErrorAction Stop
    $script:children = [System.Collections.Generic.List[System.Diagnostics.Process]]::new()

    function New-SparseFile {
        param([string] $Name, [long] $Size, [string] $Directory = $script:box)
        $path = Join-Path $Directory $Name
        $stream = [System.IO.File]::Create($path)
        try { $stream.SetLength($Size) } finally { $stream.Dispose() }
        $path
    }

    # A real NBD client that holds one connection to the export until it is killed.
    function Start-NbdClient {
        param([string] $Uri)
        # nbdsh is "python3 -m nbd"; a python3 earlier on PATH (pyenv) lacks the module, so Debian's.
        $p = Start-Process -FilePath /usr/bin/python3 -ArgumentList '-m', 'nbd', '-u', $Uri, '-c', '"import time; time.sleep(120)"' -PassThru `
            -RedirectStandardError (Join-Path $script:box "nbdsh-$([guid]::NewGuid().ToString('N')).err")
        $script:children.Add($p)
        $p
    }

    function Wait-Until {
        param([scriptblock] $Condition, [int] $Seconds = 30, [string] $What)
        $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
        while (-not (& $Condition)) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "timed out after $Seconds s waiting for $What" }
            Start-Sleep -Milliseconds 200
        }
    }

    # A script in a fresh pwsh (what a user, cron or a scheduler runs), in the sandbox's home.
    # Returns its output lines (stdout and stderr) and sets $script:childExit.
    function Invoke-ChildPwsh {
        param([string] $Script, [hashtable] $Environment = @{}, [string] $WorkingDirectory = $script:userHome)
        $file = Join-Path $script:box "child-$([guid]::NewGuid().ToString('N').Substring(0, 8)).ps1"
        Set-Content -LiteralPath $file -Value $Script
        $saved = @{}
        foreach ($k in $Environment.Keys) { $saved[$k] = [Environment]::GetEnvironmentVariable($k); [Environment]::SetEnvironmentVariable($k, $Environment[$k]) }
        Push-Location -LiteralPath $WorkingDirectory
        try {
            $out = & pwsh -NoProfile -NonInteractive -File $file 2>&1 | ForEach-Object { "$_" }
            $script:childExit = $LASTEXITCODE
        }
        finally {
            Pop-Location
            foreach ($k in $saved.Keys) { [Environment]::SetEnvironmentVariable($k, $saved[$k]) }
        }
        $out
    }

    # The text of a README section's first fenced block of the given language.
    function Get-ReadmeBlock {
        param([string] $Heading, [string] $Language = 'powershell')
        $text = Get-Content -LiteralPath (Join-Path $script:repo 'README.md') -Raw
        $start = $text.IndexOf("### $Heading")
        if ($start -lt 0) { throw "README has no section '### $Heading'" }
        $m = [regex]::Match($text.Substring($start), '(?s)```' + $Language + '\n(.*?)\n```')
        if (-not $m.Success) { throw "README section '$Heading' has no $Language block" }
        $m.Groups[1].Value
    }

    # The first two lines (header and rule) of a table as pwsh renders it at 80 columns.
    function Get-TableHeader {
        param([object] $InputObject, [string] $View)
        $lines = if ($View) { $InputObject | Format-Table -View $View | Out-String -Width 80 -Stream } else { $InputObject | Out-String -Width 80 -Stream }
        @($lines | Where-Object { $_.Trim() })[0]
    }
}

AfterAll {
    foreach ($p in $script:children) { if (-not $p.HasExited) { $p.Kill() } }
    try { Stop-PCacheDaemon -SocketPath $script:socket -Confirm:$false } catch { Write-Warning "$_" }
    Remove-Item -LiteralPath $script:pmem -Force -ErrorAction SilentlyContinue
    Set-Location $script:savedLocation
    Remove-Item -LiteralPath $script:box -Recurse -Force -ErrorAction SilentlyContinue
    $env:PCACHE_SOCKET = $script:savedSocket
    $env:HOME = $script:savedHome
    $script:fsProvider.Home = $script:savedProviderHome
    $env:PSModulePath = $script:savedModulePath
    Remove-Module PCache -ErrorAction SilentlyContinue
}

Describe 'The module' {
    It 'exports exactly the commands its manifest lists' {
        (Get-Command -Module PCache).Name | Sort-Object | Should -Be ($exported | Sort-Object)
    }

    It 'has the about_PCache topic' {
        Get-Help about_PCache | Out-String | Should -Match 'SHORT DESCRIPTION'
    }

    It 'loads the format views' {
        Get-FormatData -TypeName PCache.Backing | Should -Not -BeNullOrEmpty
    }

    It 'ships its engine' {
        Get-PCacheEnginePath | Should -Exist
    }

    It 'loads PCache.dll, built against PowerShellStandard.Library 5.1.1, in pwsh <_>' -ForEach @('7.6') {
        $PSVersionTable.PSVersion.ToString() | Should -BeLike "$_.*"
        $dll = (Get-Module PCache).ImplementingAssembly
        $dll.GetName().Name | Should -Be 'PCache'
        # Compiled against the reference assembly (3.0.0.0), bound to pwsh's own at run time.
        ($dll.GetReferencedAssemblies() | Where-Object Name -EQ 'System.Management.Automation').Version | Should -Be ([version]'3.0.0.0')
        Join-Path $script:moduleDir 'System.Management.Automation.dll' | Should -Not -Exist
    }
}

Describe 'Help for <_>' -ForEach $exported {
    BeforeAll { $script:name = $_ }

    It 'Get-Help -Full shows written help with NOTES' {
        $full = Get-Help $name -Full -ErrorAction Stop
        $full.Synopsis | Should -Not -BeLike "$name *"   # auto-generated help starts with the syntax
        ($full.alertSet.alert.Text -join ' ').Trim() | Should -Not -BeNullOrEmpty
        $text = $full | Out-String -Width 200
        $text | Should -Not -Match 'Nullable'
        $text | Should -Match 'NOTES'
    }

    It 'Get-Help -Examples shows two examples or more' {
        @((Get-Help $name -Examples -ErrorAction Stop).Examples.Example).Count | Should -BeGreaterOrEqual 2
    }

    It 'Get-Help -Parameter * works' {
        $parameters = Get-Help $name -Parameter * -ErrorAction Stop
        @($parameters).Count | Should -BeGreaterOrEqual 1
    }

    It 'has only absolute link URIs, the online version first' {
        $links = @((Get-Help $name).relatedLinks.navigationLink)
        $links[0].uri | Should -Be "https://github.com/pcache/pcache/blob/main/docs/$name.md"
        foreach ($uri in @($links.uri | Where-Object { $_ })) {
            [uri]::IsWellFormedUriString($uri, 'Absolute') | Should -BeTrue -Because "Get-Help rejects the relative link '$uri'"
        }
    }

    It 'SYNTAX names types as PowerShell users write them' {
        $syntax = (Get-Help $name).Syntax | Out-String -Width 300
        $syntax | Should -Not -Match 'System\.'
    }
}

Describe 'The daemon' {
    It 'Start-PCacheDaemon returned the daemon and pointed the session at it' {
        $script:daemon | Should -BeOfType PCache.DaemonInfo
        $script:daemon.LogPath | Should -Exist
        $env:PCACHE_SOCKET | Should -Be $script:socket
    }

    It 'Start-PCacheDaemon returns a daemon that already runs' {
        (Start-PCacheDaemon -SocketPath $script:socket -Confirm:$false).Pid | Should -Be $script:daemon.Pid
    }

    It 'Get-PCacheDaemon describes it' {
        $d = Get-PCacheDaemon
        $d.Pid | Should -Be $script:daemon.Pid
        $d.SocketPath | Should -Be $script:socket
        $d.UptimeSeconds | Should -BeOfType [double]
    }

    It 'Test-PCacheDaemon says whether one answers, without an error' {
        Test-PCacheDaemon | Should -BeTrue
        Test-PCacheDaemon -SocketPath $script:missingSocket -ErrorVariable e | Should -BeFalse
        $e | Should -BeNullOrEmpty
    }

    It 'a relative -SocketPath is relative to the current location' {
        Push-Location -LiteralPath $script:box
        try { (Get-PCacheDaemon -SocketPath ./pcache.sock).Pid | Should -Be $script:daemon.Pid }
        finally { Pop-Location }
    }
}

Describe 'Errors' {
    It 'a missing daemon is a terminating error that says how to start one' {
        $record = { Get-PCacheBacking -SocketPath $script:missingSocket } |
            Should -Throw -ErrorId 'PCacheDaemonNotRunning,PCache.Commands.GetPCacheBackingCommand' -PassThru
        $record.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        $record.TargetObject | Should -Be $script:missingSocket
        $record.ErrorDetails.RecommendedAction | Should -Match 'Start-PCacheDaemon'
    }

    It 'a socket left behind by a crashed daemon is PCacheDaemonNotRunning too' {
        $stale = Join-Path $script:box 'stale.sock'
        $bound = [System.Net.Sockets.Socket]::new('Unix', 'Stream', 'Unspecified')
        try {
            $bound.Bind([System.Net.Sockets.UnixDomainSocketEndPoint]::new($stale))
            $record = { Get-PCacheCache -SocketPath $stale } | Should -Throw -ErrorId 'PCacheDaemonNotRunning,*' -PassThru
            $record.ErrorDetails.Message | Should -Match 'left behind'
        }
        finally { $bound.Dispose() }
    }

    It 'Stop-PCacheDaemon names itself in its errors' {
        { Stop-PCacheDaemon -SocketPath $script:missingSocket -Confirm:$false } |
            Should -Throw -ErrorId 'PCacheDaemonNotRunning,Stop-PCacheDaemon'
    }

    It 'Start-PCacheDaemon failures are PCacheDaemonStartFailed in plain words' {
        $record = $null
        try { Start-PCacheDaemon -SocketPath /proc/pcm-nowhere/pcache.sock -Confirm:$false }
        catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -Be 'PCacheDaemonStartFailed,Start-PCacheDaemon'
        "$record" | Should -Not -Match 'Exception calling'
    }

    It 'an unknown backing is a non-terminating ObjectNotFound error' {
        $out = Get-PCacheBacking -BackingId 9999 -ErrorVariable e -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Be 'PCacheBackingNotFound,PCache.Commands.GetPCacheBackingCommand'
        $e[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $e[0].TargetObject | Should -Be 9999
    }

    It 'refuses a GcPercent outside 0..90 before asking the daemon' {
        { Set-PCacheBacking -BackingId 0 -GcPercent 91 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        { Add-PCacheBacking -Path /tmp/x -CacheSize 16MB -GcPercent -1 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }

    It 'refuses a -CacheSize no daemon can give (1MB)' {
        { Add-PCacheBacking -Path /tmp/x -CacheSize 1MB } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }

    It 'refuses an interval under one second' {
        { Get-PCacheStat -Continuous -Interval 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }
}

Describe 'Caches, backings and statistics' {
    BeforeAll {
        $script:cache = Start-PCacheCache -Path $script:pmem -Size 256MB -Confirm:$false -WarningAction SilentlyContinue
        $script:disk1 = New-SparseFile -Name 'sda1.img' -Size 64MB
        $script:disk2 = New-SparseFile -Name 'sda2.img' -Size 64MB
    }

    It 'Start-PCacheCache returns a numeric PCache.Cache' {
        $script:cache | Should -BeOfType PCache.Cache
        $script:cache.Path | Should -Be $script:pmem
        $script:cache.Size | Should -Be 256MB
        $script:cache.UsedRatio | Should -BeOfType [double]
        $script:cache.SocketPath | Should -Be $script:socket
    }

    It 'Start-PCacheCache on a started cache returns it' {
        (Start-PCacheCache -Path $script:pmem -Confirm:$false).CacheId | Should -Be $script:cache.CacheId
    }

    It 'Start-PCacheCache -Size of another size than the started cache is a conflict, not ignored' {
        $out = Start-PCacheCache -Path $script:pmem -Size 512MB -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Be 'PCacheCacheConflict,PCache.Commands.StartPCacheCacheCommand'
        $e[0].ErrorDetails.Message | Should -Match '256 MiB'
        $e[0].ErrorDetails.Message | Should -Match '512 MiB'
    }

    It 'Start-PCacheCache -WhatIf starts nothing' {
        $path = "/dev/shm/pcm-pester-whatif-$([guid]::NewGuid().ToString('N').Substring(0, 8)).pmem"
        Start-PCacheCache -Path $path -Size 64MB -WhatIf | Should -BeNullOrEmpty
        $path | Should -Not -Exist
    }

    It 'Add-PCacheBacking returns a backing with its NBD URI' {
        $b = Add-PCacheBacking -Path $script:disk1 -CacheSize 16MB -CacheId $script:cache.CacheId -Confirm:$false
        $b | Should -BeOfType PCache.Backing
        $b.State | Should -Be 'running'
        $b.CacheSize | Should -Be 16MB
        $b.NbdClients | Should -Be 0
        $b.Uri | Should -BeLike "nbd+unix:///pcache$($b.BackingId)?socket=*"
        $script:backing1 = $b
    }

    It 'Add-PCacheBacking binds CacheId from a piped cache' {
        $script:backing2 = $script:cache | Add-PCacheBacking -Path $script:disk2 -CacheSize 16MB -Confirm:$false
        $script:backing2.CacheId | Should -Be $script:cache.CacheId
    }

    It 'Add-PCacheBacking with the same settings returns the same backing' {
        (Add-PCacheBacking -Path $script:disk1 -CacheSize 16MB -Confirm:$false).BackingId | Should -Be $script:backing1.BackingId
    }

    It 'Add-PCacheBacking with other settings is a conflict that targets the existing backing' {
        Add-PCacheBacking -Path $script:disk1 -CacheSize 32MB -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue |
            Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Be 'PCacheBackingConflict,PCache.Commands.AddPCacheBackingCommand'
        $e[0].CategoryInfo.Category | Should -Be 'ResourceExists'
        $e[0].TargetObject.BackingId | Should -Be $script:backing1.BackingId
    }

    It 'Add-PCacheBacking of a missing file says it does not exist, without advice about -Size' {
        Add-PCacheBacking -Path (Join-Path $script:box 'nothing.img') -CacheSize 16MB -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -Be 'PCachePathNotFound,PCache.Commands.AddPCacheBackingCommand'
        $e[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $e[0].ErrorDetails.RecommendedAction | Should -Not -Match '-Size'
    }

    It 'Add-PCacheBacking in a missing directory names the directory, not dmesg' {
        Add-PCacheBacking -Path (Join-Path $script:box 'no-dir/disk.img') -CacheSize 16MB -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -Be 'PCachePathNotFound,PCache.Commands.AddPCacheBackingCommand'
        $e[0].ErrorDetails.Message | Should -Match ([regex]::Escape("directory $(Join-Path $script:box 'no-dir') does not exist"))
        "$($e[0].ErrorDetails.RecommendedAction)" | Should -Not -Match 'dmesg'
    }

    It 'Add-PCacheBacking of a directory is an InvalidArgument error' {
        Add-PCacheBacking -Path $script:box -CacheSize 16MB -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -Be 'PCacheNotABackingDevice,PCache.Commands.AddPCacheBackingCommand'
        $e[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'Add-PCacheBacking -CacheId of a cache that is not started targets the cache id, in PowerShell words' {
        $disk = New-SparseFile -Name 'sdz.img' -Size 16MB
        Add-PCacheBacking -Path $disk -CacheSize 16MB -CacheId 5 -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -Be 'PCacheCacheNotFound,PCache.Commands.AddPCacheBackingCommand'
        $e[0].TargetObject | Should -Be 5
        $e[0].ErrorDetails.Message | Should -Not -Match "'pcache "
    }

    It 'Get-PCacheCache | Get-PCacheBacking gets the cache''s backings' {
        $ids = (Get-PCacheCache -CacheId $script:cache.CacheId | Get-PCacheBacking).BackingId | Sort-Object
        $ids | Should -Be (@($script:backing1.BackingId, $script:backing2.BackingId) | Sort-Object)
    }

    It 'Get-PCacheBacking | Get-PCacheStat gets their statistics' {
        $stats = Get-PCacheBacking -CacheId $script:cache.CacheId | Get-PCacheStat
        $stats | Should -HaveCount 2
        $stats | ForEach-Object { $_ | Should -BeOfType PCache.Stat }
        $stats[0].WriteBytes | Should -BeOfType [long]
    }

    It 'Get-PCacheBacking -Path with a wildcard | Remove-PCacheBacking -WhatIf removes nothing' {
        Get-PCacheBacking -Path (Join-Path $script:box 'sda*.img') | Remove-PCacheBacking -WhatIf
        (Get-PCacheBacking -CacheId $script:cache.CacheId) | Should -HaveCount 2
    }

    It 'Set-PCacheBacking changes GcPercent and -PassThru shows it' {
        (Set-PCacheBacking -BackingId $script:backing1.BackingId -GcPercent 55 -PassThru -Confirm:$false).GcPercent | Should -Be 55
    }

    It 'Set-PCacheBacking changes write-back pacing, -WhatIf changes nothing, and Get-PCacheStat shows what pacing does' {
        $id = $script:backing1.BackingId
        Set-PCacheBacking -BackingId $id -WritebackWatermark 10 -WhatIf
        (Get-PCacheBacking -BackingId $id).WritebackWatermark | Should -Be 50
        $b = Set-PCacheBacking -BackingId $id -WritebackWatermark 10 -WritebackMaxAge 60 -WritebackRate 64MB -PassThru -Confirm:$false
        $b.WritebackWatermark | Should -Be 10
        $b.WritebackMaxAge | Should -Be 60
        $b.WritebackRate | Should -Be 64MB
        $b.GcPercent | Should -Be 55
        ($b | Format-List | Out-String) | Should -Match 'watermark 10 %, max age 60 s, rate 64 MiB/s'
        $s = Get-PCacheStat -BackingId $id
        $s.WritebackWatermark | Should -Be 10
        $s.WritebackState | Should -BeIn 'idle', 'waiting-busy', 'running-idle', 'running-age', 'running-watermark', 'running-space', 'draining', 'rate-limited'
        $s.DirtyPercent | Should -BeOfType [double]
        $s.WritebackBusyWaitMs | Should -BeOfType [long]
        ($s | Format-List | Out-String) | Should -Match 'WritebackPacing\s+:\s+\S+: '
    }

    It 'Set-PCacheBacking without a setting, or with a rate that is not whole KiB/s, is a clear error that changes nothing' {
        $id = $script:backing1.BackingId
        { Set-PCacheBacking -BackingId $id } | Should -Throw -ErrorId 'PCacheNoSettingGiven*'
        { Set-PCacheBacking -BackingId $id -WritebackWatermark 101 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        Set-PCacheBacking -BackingId $id -WritebackRate 1000 -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -Match '^PCacheInvalidArgument'
        $e[0].ErrorDetails.Message | Should -Match '-WritebackRate'
        (Get-PCacheBacking -BackingId $id).WritebackRate | Should -Be 64MB
    }

    It 'Set-PCacheBacking -Mode switches the cache mode online, completes the mode names and refuses others' {
        Set-PCacheBacking -BackingId $script:backing1.BackingId -Mode passthrough -WhatIf
        (Get-PCacheBacking -BackingId $script:backing1.BackingId).Mode | Should -Be 'writeback'
        $changed = Set-PCacheBacking -BackingId $script:backing1.BackingId -Mode writearound -Wait -PassThru -Confirm:$false
        $changed.Mode | Should -Be 'writearound'
        $changed.Draining | Should -BeFalse
        (Set-PCacheBacking -BackingId $script:backing1.BackingId -Mode writeback -PassThru -Confirm:$false).Mode | Should -Be 'writeback'
        { Set-PCacheBacking -BackingId $script:backing1.BackingId -Mode fast } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        { Set-PCacheBacking -BackingId $script:backing1.BackingId } | Should -Throw -ErrorId 'PCacheNoSettingGiven*'
        $line = 'Set-PCacheBacking -Mode write'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Sort-Object |
            Should -Be @('writearound', 'writeback', 'writeonly', 'writethrough')
    }

    It 'Sync-PCacheBacking -PassThru returns a clean backing' {
        ($script:backing1 | Sync-PCacheBacking -PassThru -Confirm:$false).DirtyBytes | Should -Be 0
    }

    It 'Get-PCacheStat -Continuous streams samples with rates and zoned timestamps that export to CSV' {
        $csv = Join-Path $TestDrive 'stats.csv'
        Get-PCacheStat -BackingId $script:backing1.BackingId, $script:backing2.BackingId -Continuous -Interval 1 -MaxSamples 2 |
            Export-Csv -Path $csv
        $rows = Import-Csv -Path $csv
        $rows | Should -HaveCount 4
        $rows[0].PSObject.Properties.Name | Should -Contain 'WriteBytesPerSecond'
        [double]$rows[0].IntervalSeconds | Should -BeGreaterThan 0
        $rows[0].Timestamp | Should -Match '\+00:00$'
    }

    It 'Clear-PCacheStat -PassThru returns the counters before they were cleared' {
        Clear-PCacheStat -BackingId $script:backing1.BackingId -PassThru -Confirm:$false | Should -BeOfType PCache.Stat
        (Get-PCacheStat -BackingId $script:backing1.BackingId).WriteRequests | Should -Be 0
    }

    It 'Get-PCacheCache | Clear-PCacheStat is an error and clears nothing' {
        & /usr/bin/python3 -m nbd -u $script:backing2.Uri -c 'h.pread(4096, 0)'
        $before = (Get-PCacheStat -BackingId $script:backing2.BackingId).ReadRequests
        $before | Should -BeGreaterThan 0
        Get-PCacheCache -CacheId $script:cache.CacheId | Clear-PCacheStat -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -Be 'PCacheWrongInputType,PCache.Commands.ClearPCacheStatCommand'
        (Get-PCacheStat -BackingId $script:backing2.BackingId).ReadRequests | Should -Be $before
    }

    It 'Get-PCacheBacking | Clear-PCacheStat clears the piped backings only' {
        $script:backing2 | Clear-PCacheStat -Confirm:$false
        (Get-PCacheStat -BackingId $script:backing2.BackingId).ReadRequests | Should -Be 0
    }

    It 'Get-PCacheStat shows latency percentiles per operation after NBD reads, and Clear-PCacheStat clears them' {
        & /usr/bin/python3 -m nbd -u $script:backing1.Uri -c 'for i in range(32): h.pread(4096, i * 4096)'
        $s = Get-PCacheStat -BackingId $script:backing1.BackingId
        $s.ReadP50Microseconds | Should -BeOfType [double]
        $s.ReadP50Microseconds | Should -BeGreaterThan 0
        $s.ReadP99Microseconds | Should -BeGreaterOrEqual $s.ReadP50Microseconds
        $s.ReadP999Microseconds | Should -BeGreaterOrEqual $s.ReadP99Microseconds
        ($s | Format-List -View StatList | Out-String) | Should -Match 'ReadLatency\s*: p50 [0-9.]+ us, p99 [0-9.]+ us, p99\.9 [0-9.]+ us'
        Clear-PCacheStat -BackingId $script:backing1.BackingId -Confirm:$false
        (Get-PCacheStat -BackingId $script:backing1.BackingId).ReadP99Microseconds | Should -Be 0
    }

    It 'Get-PCacheBacking | Stop-PCacheCache does not stop the backing''s cache' {
        { Get-PCacheBacking -BackingId $script:backing1.BackingId | Stop-PCacheCache -Force -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'InputObject*,PCache.Commands.StopPCacheCacheCommand'
        Get-PCacheCache -CacheId $script:cache.CacheId | Should -Not -BeNullOrEmpty
    }

    It 'shows friendly units only in the views' {
        Get-PCacheBacking | Format-Table | Out-String | Should -Match 'Dirty\(MiB\)'
        $json = Get-PCacheBacking -BackingId $script:backing1.BackingId | ConvertTo-Json | ConvertFrom-Json
        $json.CacheSize | Should -Be 16MB
    }

    It 'completes backing ids and cache paths' {
        $line = 'Remove-PCacheBacking -BackingId '
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText |
            Should -Contain ([string]$script:backing1.BackingId)
        $line = "Get-PCacheCache -Path /dev/shm/pcm-pester"
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText |
            Should -Contain $script:pmem
    }

    It 'Stop-PCacheCache -WhatIf stops nothing' {
        Stop-PCacheCache -CacheId $script:cache.CacheId -WhatIf
        Get-PCacheCache -CacheId $script:cache.CacheId | Should -Not -BeNullOrEmpty
    }

    Context 'with NBD clients connected' {
        BeforeAll {
            $script:client1 = Start-NbdClient -Uri $script:backing1.Uri
            $script:client2 = Start-NbdClient -Uri $script:backing1.Uri
            Wait-Until { (Get-PCacheBacking -BackingId $script:backing1.BackingId).NbdClients -eq 2 } -What 'two NBD clients'
        }

        It 'Get-PCacheBacking counts them' {
            (Get-PCacheBacking -BackingId $script:backing1.BackingId).NbdClients | Should -Be 2
        }

        It 'Remove-PCacheBacking is ConfirmImpact High' {
            [System.Management.Automation.CommandMetadata]::new((Get-Command Remove-PCacheBacking)).ConfirmImpact | Should -Be 'High'
        }

        It 'Remove-PCacheBacking refuses with PCacheBackingInUse naming the count' {
            Remove-PCacheBacking -BackingId $script:backing1.BackingId -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
            $e[0].FullyQualifiedErrorId | Should -Be 'PCacheBackingInUse,PCache.Commands.RemovePCacheBackingCommand'
            $e[0].CategoryInfo.Category | Should -Be 'ResourceBusy'
            $e[0].ErrorDetails.Message | Should -Match '2 NBD clients'
            Get-PCacheBacking -BackingId $script:backing1.BackingId | Should -Not -BeNullOrEmpty
            $script:client1.HasExited | Should -BeFalse
        }

        It 'Remove-PCacheBacking -Force -WhatIf names the clients it would disconnect' {
            $out = Invoke-ChildPwsh -Script @"
Import-Module '$script:moduleDir/PCache.psd1'
Remove-PCacheBacking -BackingId $($script:backing1.BackingId) -Force -WhatIf -SocketPath '$script:socket'
"@
            ($out -join "`n") | Should -Match 'What if: .*DISCONNECT 2 NBD clients from the NBD export pcache'
            (Get-PCacheBacking -BackingId $script:backing1.BackingId).NbdClients | Should -Be 2
        }

        It 'pcache backing-stop refuses with backing_in_use, and the DSC resource with _exist false too' {
            $err = Join-Path $script:box 'stop.err'
            & $script:engine backing-stop --backing-id $script:backing1.BackingId --socket $script:socket 2>$err
            $LASTEXITCODE | Should -Be 1
            Get-Content -LiteralPath $err -Raw | Should -Match '2 NBD clients are connected.*\[backing_in_use\]'
            $instance = @{ path = $script:disk1; _exist = $false; socket = $script:socket } | ConvertTo-Json -Compress
            $instance | & $script:engine dsc backing set 2>$err | Out-Null
            $LASTEXITCODE | Should -Be 4
            Get-Content -LiteralPath $err -Raw | Should -Match 'in use: 2 NBD client'
            Get-PCacheBacking -BackingId $script:backing1.BackingId | Should -Not -BeNullOrEmpty
        }

        It 'Remove-PCacheBacking -Force writes back, disconnects them and removes the backing' {
            $removed = Remove-PCacheBacking -BackingId $script:backing1.BackingId -Force -PassThru -Confirm:$false
            $removed.DiscardedDirtyBytes | Should -Be 0
            Get-PCacheBacking -BackingId $script:backing1.BackingId -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            # The clients were cut off: the daemon holds no NBD connection any more (nbdsh itself
            # sleeps on, unaware, until it is killed).
            (Get-PCacheDaemon).NbdConnections | Should -Be 0
        }
    }

    It 'Get-PCacheStat -Continuous says so when a backing it samples goes away' {
        $id = $script:backing2.BackingId
        $stopScript = Join-Path $script:box 'stop-later.sh'
        Set-Content -LiteralPath $stopScript -Value "sleep 1.5; '$script:engine' backing-stop --backing-id $id --socket '$script:socket' >/dev/null"
        $stopper = Start-Process -FilePath bash -PassThru -ArgumentList $stopScript
        $script:children.Add($stopper)
        $samples = Get-PCacheStat -BackingId $id -Continuous -Interval 1 -MaxSamples 10 -ErrorVariable e -ErrorAction SilentlyContinue
        $stopper.WaitForExit()
        $e[0].FullyQualifiedErrorId | Should -Be 'PCacheBackingGone,PCache.Commands.GetPCacheStatCommand'
        $e[0].TargetObject | Should -Be $id
        @($samples).Count | Should -BeLessThan 10   # it ended when nothing was left to watch
    }

    It 'Stop-PCacheCache -PassThru stops the cache piped to it' {
        $stopped = Get-PCacheCache -CacheId $script:cache.CacheId | Stop-PCacheCache -Force -PassThru -Confirm:$false
        $stopped | Should -BeOfType PCache.StoppedCache
        Get-PCacheCache -CacheId $script:cache.CacheId -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}

Describe 'Paths through the provider' {
    BeforeAll {
        $script:pathPmem = "/dev/shm/pcm-pester-paths-$script:id.pmem"
        $script:pathCache = Start-PCacheCache -Path $script:pathPmem -Size 64MB -Confirm:$false -WarningAction SilentlyContinue
        $script:homeDisk = New-SparseFile -Name 'disk.img' -Size 32MB -Directory $script:userHome
        $script:oddDisk = New-SparseFile -Name 'odd[1].img' -Size 32MB -Directory $script:userHome
        Push-Location -LiteralPath $script:userHome
        $script:homeBacking = Add-PCacheBacking -Path ./disk.img -CacheSize 8MB -CacheId $script:pathCache.CacheId -Confirm:$false
        $script:oddBacking = Add-PCacheBacking -Path $script:oddDisk -CacheSize 8MB -CacheId $script:pathCache.CacheId -Confirm:$false
        Pop-Location
    }
    AfterAll {
        Stop-PCacheCache -CacheId $script:pathCache.CacheId -Force -Confirm:$false -ErrorAction SilentlyContinue
        Remove-Item -LiteralPath $script:pathPmem -Force -ErrorAction SilentlyContinue
    }

    It 'Add-PCacheBacking resolved ./disk.img against the current location' {
        $script:homeBacking.Path | Should -Be $script:homeDisk
    }

    It 'Get-PCacheBacking -Path ~/disk* finds it' {
        (Get-PCacheBacking -Path ~/disk*).BackingId | Should -Be $script:homeBacking.BackingId
    }

    It 'Get-PCacheBacking -Path with a relative wildcard finds it from its directory' {
        Push-Location -LiteralPath $script:userHome
        try { (Get-PCacheBacking -Path ./dis?.img).BackingId | Should -Be $script:homeBacking.BackingId }
        finally { Pop-Location }
    }

    It 'Get-PCacheBacking -LiteralPath takes brackets as they are' {
        (Get-PCacheBacking -LiteralPath '~/odd[1].img').BackingId | Should -Be $script:oddBacking.BackingId
    }

    It 'Get-PCacheCache -Path resolves relative paths' {
        Push-Location -LiteralPath /dev/shm
        try { (Get-PCacheCache -Path "./pcm-pester-paths-$script:id.pmem").CacheId | Should -Be $script:pathCache.CacheId }
        finally { Pop-Location }
    }

    It 'the README''s Get-PCacheBacking -Path ~/disk* | Remove-PCacheBacking -WhatIf names the backing' {
        $out = Invoke-ChildPwsh -Script @"
Import-Module '$script:moduleDir/PCache.psd1'
Get-PCacheBacking -Path ~/disk* | Remove-PCacheBacking -WhatIf
"@ -Environment @{ PCACHE_SOCKET = $script:socket; HOME = $script:userHome }
        ($out -join "`n") | Should -Match ([regex]::Escape("on target `"backing $($script:homeBacking.BackingId) ($script:homeDisk)`""))
    }

    It 'completes a relative path to the daemon''s path' {
        Push-Location -LiteralPath $script:userHome
        try {
            $line = 'Get-PCacheBacking -Path ./dis'
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain $script:homeDisk
            $line = 'Get-PCacheBacking -Path ~/dis'
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain $script:homeDisk
        }
        finally { Pop-Location }
    }

    Context 'views at 80 columns' {
        BeforeAll {
            $script:views = [ordered]@{
                'PCache.Cache'      = Get-PCacheCache -CacheId $script:pathCache.CacheId
                'PCache.Backing'    = Get-PCacheBacking -CacheId $script:pathCache.CacheId
                'PCache.Stat'       = Get-PCacheBacking -CacheId $script:pathCache.CacheId | Get-PCacheStat
                'PCache.StatSample' = Get-PCacheStat -BackingId $script:homeBacking.BackingId -Continuous -MaxSamples 1
                'PCache.DaemonInfo' = Get-PCacheDaemon
            }
        }

        It 'the default table of <_> fits 80 columns with every column and its whole header' -ForEach @(
            'PCache.Cache', 'PCache.Backing', 'PCache.Stat', 'PCache.StatSample', 'PCache.DaemonInfo'
        ) {
            $lines = @($script:views[$_] | Out-String -Width 80 -Stream | Where-Object { $_.Trim() })
            $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual 80 }
            $format = Get-FormatData -TypeName $_ -PowerShellVersion $PSVersionTable.PSVersion
            $labels = $format.FormatViewDefinition[0].Control.Headers.Label
            $header = $lines[0]
            foreach ($label in $labels) { $header | Should -Match ([regex]::Escape($label)) }
            $header | Should -Not -Match '…'
        }

        It 'numbers have fixed decimals' {
            $row = @(Get-PCacheBacking -BackingId $script:homeBacking.BackingId | Out-String -Width 80 -Stream | Where-Object { $_.Trim() })[2]
            $row | Should -Match '\s0\.03\s+8\.0\s+\d+\.\d\s+0\.0\s+0$'
        }

        It 'long paths are cut from the left, and -View Wide shows them whole' {
            $row = @(Get-PCacheBacking -BackingId $script:oddBacking.BackingId | Out-String -Width 80 -Stream | Where-Object { $_.Trim() })[2]
            $row | Should -Match '…\S*odd\[1\]\.img'
            $wide = Get-PCacheBacking -BackingId $script:oddBacking.BackingId | Format-Table -View Wide | Out-String -Width 400
            $wide | Should -Match ([regex]::Escape($script:oddDisk))
            $wide | Should -Match ([regex]::Escape($script:oddBacking.Uri))
        }

        It 'the Path column of a cache takes no more than its width on a wide terminal' {
            $line = @(Get-PCacheCache -CacheId $script:pathCache.CacheId | Out-String -Width 250 -Stream | Where-Object { $_.Trim() })[0]
            $line.TrimEnd().Length | Should -BeLessOrEqual 80
        }

        It 'every table the docs and the README show is the real header of a view' {
            $real = foreach ($type in $script:views.Keys) { (Get-TableHeader $script:views[$type]).TrimEnd() }
            $real += (Get-TableHeader ([PCache.StoppedCache]::new())).TrimEnd()
            $real += (Get-TableHeader ([PCache.RemovedBacking]::new())).TrimEnd()
            $files = @(Get-ChildItem -LiteralPath (Join-Path $script:repo 'docs') -Filter *.md) + @(Get-Item -LiteralPath (Join-Path $script:repo 'README.md'))
            $shown = foreach ($f in $files) {
                Get-Content -LiteralPath $f.FullName | Where-Object { $_ -match '^\s*(Id|Pid|Time)\s+\S' -and $_ -match '\((MiB|GiB)|Caches|Path\s*$|Mode$' } |
                    ForEach-Object { [pscustomobject]@{ File = $f.Name; Line = $_.TrimEnd() } }
            }
            @($shown).Count | Should -BeGreaterThan 5
            foreach ($s in $shown) { $real | Should -Contain $s.Line -Because "$($s.File) shows '$($s.Line)'" }
        }
    }
}

Describe 'The README''s module section, as written' {
    BeforeAll {
        # A daemon of its own (the session's cache id 0, as the README assumes), on a sandbox socket.
        $script:readmeSocket = Join-Path $script:box 'readme/pcache.sock'
        $script:readmePmem = "/dev/shm/pcm-pester-readme-$script:id.pmem"
        New-SparseFile -Name 'image.raw' -Size 8MB -Directory $script:userHome | Out-Null
        $script:readmeEnv = @{ HOME = $script:userHome; PCACHE_SOCKET = $script:readmeSocket; PSModulePath = (Split-Path -Parent $script:moduleDir) }
    }
    AfterAll {
        # The session stopped its daemon; one left over (a failed run) is stopped here.
        if (Test-PCacheDaemon -SocketPath $script:readmeSocket) { Stop-PCacheDaemon -SocketPath $script:readmeSocket -Confirm:$false }
        Remove-Item -LiteralPath $script:readmePmem -Force -ErrorAction SilentlyContinue
        Remove-Item -LiteralPath (Join-Path $script:userHome 'disk.img.readme') -Force -ErrorAction SilentlyContinue
    }

    It 'the interactive session runs line by line, and shows what the README shows' {
        $block = Get-ReadmeBlock 'An interactive session'
        $commands = @($block -split "`n" | Where-Object { $_ -like 'PS> *' } | ForEach-Object { $_.Substring(4) })
        $commands.Count | Should -BeGreaterThan 10
        # The only change: the sandbox's stand-in for pmem instead of /dev/shm/demo.pmem.
        $script = @('$ErrorActionPreference = ''Stop''', 'Import-Module PCache')
        foreach ($c in $commands) {
            $c = $c.Replace('/dev/shm/demo.pmem', $script:readmePmem)
            $script += "'##PS> ' + @'`n$c`n'@"
            $script += "Invoke-Expression @'`n$c`n'@ | Out-String -Width 80 -Stream"
        }
        $script += "'##ERRORS ' + `$Error.Count"
        # The README's disk.img is ~/disk.img; the suite's own lives there too, so this one runs in a home of its own.
        $readmeHome = Join-Path $script:box 'readme-home'
        $null = New-Item -ItemType Directory -Force -Path $readmeHome
        Copy-Item -LiteralPath (Join-Path $script:userHome 'image.raw') -Destination $readmeHome
        $env = $script:readmeEnv.Clone(); $env.HOME = $readmeHome
        $out = Invoke-ChildPwsh -Script ($script -join "`n") -Environment $env -WorkingDirectory $readmeHome
        $text = $out -join "`n"
        $script:childExit | Should -Be 0 -Because $text
        $text | Should -Match '##ERRORS 0'
        $text | Should -Match ([regex]::Escape("What if: Performing the operation `"Write back 0 B of dirty data, withdraw the NBD export pcache0 (no NBD clients connected) and remove the backing`" on target `"backing 0 ($readmeHome/disk.img)`""))
        $text | Should -Match ([regex]::Escape("nbd+unix:///pcache0?socket=$(Split-Path -Parent $script:readmeSocket)/nbd.sock"))
        # Every table header the README shows is the one pwsh printed.
        foreach ($h in ($block -split "`n" | Where-Object { $_ -match '^\s*(Id|Pid)\s' })) {
            ($out | ForEach-Object { $_.TrimEnd() }) | Should -Contain $h.TrimEnd() -Because 'the README shows this header'
        }
        Test-PCacheDaemon -SocketPath $script:readmeSocket | Should -BeFalse
    }
}

Describe 'Installing from the package, and the automation story' {
    BeforeAll {
        $script:packages = Join-Path $script:repo 'out/packages'
        $script:nupkg = Get-ChildItem -LiteralPath $script:packages -Filter 'PCache.*.nupkg' -ErrorAction SilentlyContinue | Select-Object -First 1
        # Installing writes only under the sandbox's home: the user's module folder and PSResourceGet's store.
        $script:installHome = Join-Path $script:box 'install-home'
        $null = New-Item -ItemType Directory -Force -Path $script:installHome
        $script:installEnv = @{ HOME = $script:installHome; PCACHE_SOCKET = $script:socket; PSModulePath = $null; XDG_DATA_HOME = $null; XDG_CONFIG_HOME = $null; XDG_CACHE_HOME = $null }
        $script:statCache = Start-PCacheCache -Path "/dev/shm/pcm-pester-install-$script:id.pmem" -Size 64MB -Confirm:$false -WarningAction SilentlyContinue
        $script:statDisk = New-SparseFile -Name 'stat.img' -Size 32MB
        $script:statBacking = Add-PCacheBacking -Path $script:statDisk -CacheSize 8MB -CacheId $script:statCache.CacheId -Confirm:$false
    }
    AfterAll {
        Stop-PCacheCache -CacheId $script:statCache.CacheId -Force -Confirm:$false -ErrorAction SilentlyContinue
        Remove-Item -LiteralPath "/dev/shm/pcm-pester-install-$script:id.pmem" -Force -ErrorAction SilentlyContinue
    }

    It './build.sh package wrote out/packages/PCache.<version>.nupkg' {
        $script:nupkg | Should -Not -BeNullOrEmpty
        $script:nupkg.Name | Should -Be "PCache.$((Import-PowerShellDataFile (Join-Path $script:moduleDir 'PCache.psd1')).ModuleVersion).nupkg"
    }

    It 'the README''s Register-PSResourceRepository and Install-PSResource install it, and Import-Module PCache works by name' {
        $install = Get-ReadmeBlock 'Installing it'
        $install = $install.Replace('./out/packages', $script:packages)
        $out = Invoke-ChildPwsh -Script "`$ErrorActionPreference = 'Stop'`n$install`n(Get-Module PCache).ModuleBase`nTest-PCacheDaemon" -Environment $script:installEnv
        $script:childExit | Should -Be 0 -Because ($out -join "`n")
        $out[-2] | Should -BeLike "$script:installHome/*/PCache/*"
        $out[-1] | Should -Be 'True'
        # A new session finds it by name, as cron's would; its engine is executable.
        $out = Invoke-ChildPwsh -Script "Import-Module PCache -ErrorAction Stop; Test-Path -LiteralPath (Get-PCacheEnginePath); `$null = Get-PCacheEnginePath -Verify -ErrorAction Stop; 'runs'" -Environment $script:installEnv
        $out | Should -Be @('True', 'runs')
    }

    It 'the README''s cron line runs (after the install above): the past hour''s counters, then afresh' {
        $readme = Get-Content -LiteralPath (Join-Path $script:repo 'README.md') -Raw
        $cron = [regex]::Match($readme, '(?m)^0 \* \* \* \* (pwsh .*)$').Groups[1].Value
        $cron | Should -Not -BeNullOrEmpty
        & $script:engine stat --backing-id $script:statBacking.BackingId --socket $script:socket | Out-Null
        $saved = $env:HOME, $env:PSModulePath
        try {
            $env:HOME = $script:installHome; $env:PSModulePath = $null
            Push-Location -LiteralPath $script:installHome
            & bash -c $cron
            $LASTEXITCODE | Should -Be 0
        }
        finally { Pop-Location; $env:HOME, $env:PSModulePath = $saved }
        $rows = Import-Csv -LiteralPath (Join-Path $script:installHome 'pcache-hourly.csv')
        $rows.BackingId | Should -Contain ([string]$script:statBacking.BackingId)
        ($rows | Where-Object BackingId -EQ $script:statBacking.BackingId).Timestamp | Should -Match '\+00:00$'
    }

    It 'the README''s -Continuous recipe puts each row on disk while it runs' {
        $line = (Get-ReadmeBlock 'A reporting pipeline') -split "`n" | Where-Object { $_ -like 'Get-PCacheStat -Continuous*' }
        $line | Should -Not -BeNullOrEmpty
        $csv = Join-Path $script:userHome 'pcache-stats.csv'
        $file = Join-Path $script:box 'continuous.ps1'
        Set-Content -LiteralPath $file -Value "Import-Module '$script:moduleDir/PCache.psd1'`n$line"
        $saved = $env:HOME
        $env:HOME = $script:userHome
        try { $p = Start-Process -FilePath pwsh -ArgumentList '-NoProfile', '-NonInteractive', '-File', $file -PassThru -WorkingDirectory $script:userHome }
        finally { $env:HOME = $saved }
        $script:children.Add($p)
        Wait-Until { (Test-Path -LiteralPath $csv) -and @(Import-Csv -LiteralPath $csv).Count -ge 2 } -What 'two rows in pcache-stats.csv'
        $p.HasExited | Should -BeFalse   # the rows are on disk while the pipeline still runs
        $p.Kill()
        (Import-Csv -LiteralPath $csv)[0].Timestamp | Should -Match '\+00:00$'
    }

    It 'the README''s reports run as written' {
        $block = Get-ReadmeBlock 'A reporting pipeline'
        $reports = ($block -split "(?m)^# ") | Where-Object { $_ -match '^(Dirty data|Backings whose)' } | ForEach-Object { ($_ -split "`n", 2)[1] }
        $reports | Should -HaveCount 2
        $perCache = Invoke-Expression $reports[0]
        ($perCache | Where-Object CacheId -EQ $script:statCache.CacheId).Backings | Should -Be 1
        $json = Invoke-Expression $reports[1] | ConvertFrom-Json
        @($json).BackingId | Should -Contain $script:statBacking.BackingId
    }

    It 'provisioning from CSV runs again without changes (Import-Csv backings.csv | Add-PCacheBacking)' {
        $csv = Join-Path $script:box 'backings.csv'
        [pscustomobject]@{ Path = $script:statDisk; CacheSize = 8MB; CacheId = $script:statCache.CacheId; GcPercent = 60 } | Export-Csv -LiteralPath $csv
        $first = Import-Csv $csv | Add-PCacheBacking -Confirm:$false -WarningAction SilentlyContinue -ErrorAction SilentlyContinue -ErrorVariable e
        # The backing was attached with the default GcPercent: the CSV asks for 60, a named difference.
        $e[0].FullyQualifiedErrorId | Should -Be 'PCacheBackingConflict,PCache.Commands.AddPCacheBackingCommand'
        $e[0].ErrorDetails.Message | Should -Match 'GcPercent'
        Set-PCacheBacking -BackingId $script:statBacking.BackingId -GcPercent 60 -Confirm:$false
        (Import-Csv $csv | Add-PCacheBacking -Confirm:$false).BackingId | Should -Be $script:statBacking.BackingId
        (Import-Csv $csv | Add-PCacheBacking -Confirm:$false).BackingId | Should -Be $script:statBacking.BackingId
    }

    It 'with $ErrorActionPreference = ''Stop'', pwsh -Command exits with 1 on an error' {
        Invoke-ChildPwsh -Script "`$ErrorActionPreference = 'Stop'; Import-Module '$script:moduleDir/PCache.psd1'; Get-PCacheBacking -BackingId 9999; 'not reached'" -Environment @{ PCACHE_SOCKET = $script:socket } |
            Should -Not -Contain 'not reached'
        $script:childExit | Should -Be 1
    }
}

Describe 'The Ansible playbook in docs/examples, run by ansible-core against the daemon' {
    BeforeAll {
        $script:playbook = Join-Path $script:repo 'docs/examples/pcache-playbook.yml'
        $script:ansiblePmem = "/dev/shm/pcm-pester-ansible-$script:id.pmem"
        $script:ansibleDisks = @(
            New-SparseFile -Name 'ansible1.img' -Size 32MB
            New-SparseFile -Name 'ansible2.img' -Size 32MB
        )
        $script:ansibleHome = Join-Path $script:box 'ansible-home'
        $null = New-Item -ItemType Directory -Force -Path $script:ansibleHome

        function Write-PlaybookVars {
            param([string] $Name, [object[]] $Backings, [string[]] $Retired = @())
            $path = Join-Path $script:box $Name
            [ordered]@{
                pcache_executable          = $script:engine
                pcache_socket              = $script:socket
                pcache_device              = $script:ansiblePmem
                pcache_device_size         = '64M'
                pcache_backings            = $Backings
                pcache_retired             = $Retired
                pcache_become              = $false
                ansible_python_interpreter = '/usr/bin/python3'
            } | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath $path
            $path
        }

        # ansible-playbook -c local -i localhost, as the playbook's header says; returns its output
        # and sets $script:changed from the play recap.
        function Invoke-Playbook {
            param([string] $VarsFile, [string[]] $Extra = @())
            $saved = $env:HOME, $env:PATH, $env:ANSIBLE_NOCOLOR, $env:ANSIBLE_LOCAL_TEMP
            try {
                $env:HOME = $script:ansibleHome
                # Debian's python3 (with ansible) first: pyenv's has neither ansible nor nbd.
                $env:PATH = "/usr/bin:/bin:$env:PATH"
                $env:ANSIBLE_NOCOLOR = '1'
                $env:ANSIBLE_LOCAL_TEMP = Join-Path $script:ansibleHome 'tmp'
                $out = & /usr/bin/ansible-playbook -c local -i 'localhost,' $script:playbook -e "@$VarsFile" @Extra 2>&1 | ForEach-Object { "$_" }
                $script:playbookExit = $LASTEXITCODE
            }
            finally { $env:HOME, $env:PATH, $env:ANSIBLE_NOCOLOR, $env:ANSIBLE_LOCAL_TEMP = $saved }
            $recap = $out | Where-Object { $_ -match '^localhost\s+:\s+ok=' } | Select-Object -Last 1
            $script:changed = if ($recap -match 'changed=(\d+)') { [int]$Matches[1] } else { -1 }
            $out -join "`n"
        }

        $script:wanted = @(
            @{ path = $script:ansibleDisks[0]; cache_size = '8M'; gc_percent = 70 }
            @{ path = $script:ansibleDisks[1]; cache_size = '8M'; gc_percent = 50 }
        )
        $script:varsFile = Write-PlaybookVars -Name 'ansible-vars.json' -Backings $script:wanted
    }
    AfterAll {
        $cache = Get-PCacheCache -LiteralPath $script:ansiblePmem -ErrorAction SilentlyContinue
        if ($cache) { Stop-PCacheCache -CacheId $cache.CacheId -Force -Confirm:$false }
        Remove-Item -LiteralPath $script:ansiblePmem -Force -ErrorAction SilentlyContinue
    }

    It '--check --diff on a fresh host reports what it would do and changes nothing' {
        $out = Invoke-Playbook $script:varsFile '--check', '--diff'
        $script:playbookExit | Should -Be 0 -Because $out
        $script:changed | Should -Be 2   # the cache task, and the backings' loop (both items)
        $out | Should -Match '"attached": true'
        $script:ansiblePmem | Should -Not -Exist
        Get-PCacheBacking -LiteralPath $script:ansibleDisks[0] -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'the first run converges: the cache is started and both backings are attached' {
        $out = Invoke-Playbook $script:varsFile
        $script:playbookExit | Should -Be 0 -Because $out
        $script:changed | Should -Be 2   # the cache task, and the backings' loop (both items)
        (Get-PCacheBacking -LiteralPath $script:ansibleDisks[0]).GcPercent | Should -Be 70
        (Get-PCacheBacking -LiteralPath $script:ansibleDisks[1]).GcPercent | Should -Be 50
        $out | Should -Match 'read hit ratio'
    }

    It 'the second run changes nothing' {
        $out = Invoke-Playbook $script:varsFile
        $script:playbookExit | Should -Be 0 -Because $out
        $script:changed | Should -Be 0
    }

    It '--check --diff of another gc_percent reports the difference and changes nothing' {
        $other = @(@{ path = $script:ansibleDisks[0]; cache_size = '8M'; gc_percent = 60 }, $script:wanted[1])
        $vars = Write-PlaybookVars -Name 'ansible-vars-gc.json' -Backings $other
        $out = Invoke-Playbook $vars '--check', '--diff'
        $script:playbookExit | Should -Be 0 -Because $out
        $script:changed | Should -Be 1
        $out | Should -Match '-\s+"gc_percent": 70'
        $out | Should -Match '\+\s+"gc_percent": 60'
        (Get-PCacheBacking -LiteralPath $script:ansibleDisks[0]).GcPercent | Should -Be 70
    }

    It 'a retired backing is refused while an NBD client is connected, and removed once it is not' {
        $vars = Write-PlaybookVars -Name 'ansible-vars-retire.json' -Backings @($script:wanted[0]) -Retired @($script:ansibleDisks[1])
        $client = Start-NbdClient -Uri (Get-PCacheBacking -LiteralPath $script:ansibleDisks[1]).Uri
        Wait-Until { (Get-PCacheBacking -LiteralPath $script:ansibleDisks[1]).NbdClients -eq 1 } -What 'the NBD client'
        $out = Invoke-Playbook $vars
        $script:playbookExit | Should -Not -Be 0
        $out | Should -Match 'in use: 1 NBD client'
        $client.Kill(); $client.WaitForExit()
        Wait-Until { (Get-PCacheBacking -LiteralPath $script:ansibleDisks[1]).NbdClients -eq 0 } -What 'the NBD client to go'
        $out = Invoke-Playbook $vars
        $script:playbookExit | Should -Be 0 -Because $out
        $script:changed | Should -Be 1
        Get-PCacheBacking -LiteralPath $script:ansibleDisks[1] -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}

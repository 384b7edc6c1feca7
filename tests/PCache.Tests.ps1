#Requires -Version 7.4
# Pester 5 suite for the staged PCache module, driving a real daemon. ./build.sh test runs it
# through build/pester.ps1 in a fresh pwsh (a loaded PCache.dll cannot be reloaded) when pwsh and
# Pester 5 are installed. The xunit project tests/PCache.Module.Tests checks the same behaviour
# below the PowerShell layer; this suite checks what only pwsh can: binding, validation,
# -WhatIf, error records, formatting, help and completion.

BeforeAll {
    $moduleDir = if ($env:PCACHE_MODULE_DIR) { $env:PCACHE_MODULE_DIR } else { Join-Path $PSScriptRoot '../out/PCache' }
    # On PSModulePath, Get-Help also finds the module's about_ topic, as it does once installed.
    $script:savedModulePath = $env:PSModulePath
    $env:PSModulePath = (Split-Path -Parent (Resolve-Path -LiteralPath $moduleDir).ProviderPath) + [System.IO.Path]::PathSeparator + $env:PSModulePath
    Import-Module (Join-Path $moduleDir 'PCache.psd1') -Force -ErrorAction Stop

    $script:savedSocket = $env:PCACHE_SOCKET
    $id = [guid]::NewGuid().ToString('N').Substring(0, 8)
    # Unix socket paths must stay under 108 bytes: a short directory in /tmp, not $TestDrive.
    $script:box = Join-Path '/tmp' "pcm-pester-$id"
    $null = New-Item -ItemType Directory -Path $script:box
    $script:socket = Join-Path $script:box 'pcache.sock'
    $script:missingSocket = Join-Path $script:box 'nobody.sock'
    $script:pmem = "/dev/shm/pcm-pester-$id.pmem"
    $script:daemon = Start-PCacheDaemon -SocketPath $script:socket -Confirm:$false -ErrorAction Stop

    function New-SparseFile {
        param([string] $Name, [long] $Size)
        $path = Join-Path $script:box $Name
        $stream = [System.IO.File]::Create($path)
        try { $stream.SetLength($Size) } finally { $stream.Dispose() }
        $path
    }
}

AfterAll {
    Stop-PCacheDaemon -SocketPath $script:socket -Confirm:$false -ErrorAction SilentlyContinue
    Remove-Item -LiteralPath $script:pmem -Force -ErrorAction SilentlyContinue
    Remove-Item -LiteralPath $script:box -Recurse -Force -ErrorAction SilentlyContinue
    $env:PCACHE_SOCKET = $script:savedSocket
    $env:PSModulePath = $script:savedModulePath
    Remove-Module PCache -ErrorAction SilentlyContinue
}

Describe 'The module' {
    It 'exports exactly the commands its manifest lists' {
        $expected = 'Add-PCacheBacking', 'Clear-PCacheStat', 'Get-PCacheBacking', 'Get-PCacheCache', 'Get-PCacheDaemon',
            'Get-PCacheEnginePath', 'Get-PCacheStat', 'Initialize-PCacheCache', 'Remove-PCacheBacking', 'Set-PCacheBacking',
            'Start-PCacheCache', 'Start-PCacheDaemon', 'Stop-PCacheCache', 'Stop-PCacheDaemon', 'Sync-PCacheBacking',
            'Test-PCacheDaemon'
        (Get-Command -Module PCache).Name | Sort-Object | Should -Be ($expected | Sort-Object)
    }

    It 'has written help for <_>' -ForEach @(
        'Add-PCacheBacking', 'Get-PCacheStat', 'Stop-PCacheCache', 'Start-PCacheDaemon', 'Get-PCacheEnginePath'
    ) {
        $help = Get-Help $_ -Full
        $help.Synopsis | Should -Not -BeLike "$_ *"   # auto-generated help starts with the syntax
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
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
}

Describe 'Errors' {
    It 'a missing daemon is a terminating error that says how to start one' {
        $record = { Get-PCacheBacking -SocketPath $script:missingSocket } |
            Should -Throw -ErrorId 'PCacheDaemonNotRunning,PCache.Commands.GetPCacheBackingCommand' -PassThru
        $record.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        $record.TargetObject | Should -Be $script:missingSocket
        $record.ErrorDetails.RecommendedAction | Should -Match 'Start-PCacheDaemon'
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
        { Add-PCacheBacking -Path /tmp/x -CacheSize 1MB -GcPercent -1 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
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

    It 'Sync-PCacheBacking -PassThru returns a clean backing' {
        ($script:backing1 | Sync-PCacheBacking -PassThru -Confirm:$false).DirtyBytes | Should -Be 0
    }

    It 'Get-PCacheStat -Continuous streams samples with rates that export to CSV' {
        $csv = Join-Path $TestDrive 'stats.csv'
        Get-PCacheStat -BackingId $script:backing1.BackingId, $script:backing2.BackingId -Continuous -Interval 1 -MaxSamples 2 |
            Export-Csv -Path $csv
        $rows = Import-Csv -Path $csv
        $rows | Should -HaveCount 4
        $rows[0].PSObject.Properties.Name | Should -Contain 'WriteBytesPerSecond'
        [double]$rows[0].IntervalSeconds | Should -BeGreaterThan 0
    }

    It 'Clear-PCacheStat -PassThru returns the counters before they were cleared' {
        Clear-PCacheStat -BackingId $script:backing1.BackingId -PassThru -Confirm:$false | Should -BeOfType PCache.Stat
        (Get-PCacheStat -BackingId $script:backing1.BackingId).WriteRequests | Should -Be 0
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

    It 'Remove-PCacheBacking -PassThru reports what was written back' {
        $removed = $script:backing2 | Remove-PCacheBacking -PassThru -Confirm:$false
        $removed | Should -BeOfType PCache.RemovedBacking
        $removed.DiscardedDirtyBytes | Should -Be 0
        Get-PCacheBacking -BackingId $script:backing2.BackingId -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'Stop-PCacheCache -PassThru stops the cache and its backings' {
        $stopped = Get-PCacheCache -CacheId $script:cache.CacheId | Stop-PCacheCache -Force -PassThru -Confirm:$false
        $stopped | Should -BeOfType PCache.StoppedCache
        $stopped.StoppedBackingIds | Should -Contain $script:backing1.BackingId
        Get-PCacheCache -CacheId $script:cache.CacheId -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}

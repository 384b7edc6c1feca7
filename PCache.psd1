#
# Module manifest for PCache. Evaluated in restricted language mode: keep it literal.
# Every file name below must match the on-disk case exactly (Linux).
#
@{
    RootModule           = 'PCache.dll'
    NestedModules        = @('PCache.psm1')
    # Loaded before the rest: PCache.psm1 and format views use its types ([PCache.Backing],
    # [PCache.Core.DaemonLauncher]) before any cmdlet has run.
    RequiredAssemblies   = @('PCache.Core.dll')
    ModuleVersion        = '0.1.0'
    GUID                 = 'b057bb48-a0dd-44b2-be29-87b2ade98a86'
    Author               = 'PCache developers'
    CompanyName          = 'PCache developers'
    Copyright            = '(c) PCache developers. MIT License.'
    Description          = 'Manage PCache, a user-space persistent-memory block cache whose native engine exports cached block devices over NBD.'
    CompatiblePSEditions = @('Core')
    PowerShellVersion    = '7.4'
    FormatsToProcess     = @('PCache.format.ps1xml')

    # Explicit lists only, never '*' (a wildcard makes command discovery load the module).
    CmdletsToExport      = @(
        'Add-PCacheBacking'
        'Clear-PCacheStat'
        'Get-PCacheBacking'
        'Get-PCacheCache'
        'Get-PCacheDaemon'
        'Get-PCacheStat'
        'Initialize-PCacheCache'
        'Remove-PCacheBacking'
        'Set-PCacheBacking'
        'Start-PCacheCache'
        'Stop-PCacheCache'
        'Sync-PCacheBacking'
        'Test-PCacheDaemon'
    )
    FunctionsToExport    = @(
        'Get-PCacheEnginePath'
        'Start-PCacheDaemon'
        'Stop-PCacheDaemon'
    )
    AliasesToExport      = @()
    VariablesToExport    = @()

    PrivateData          = @{
        PSData = @{
            Tags         = @('PSEdition_Core', 'Linux', 'Storage', 'Cache', 'pmem', 'PersistentMemory', 'NBD', 'BlockDevice')
            # The repository has no public home yet: confirm these two addresses before publishing.
            ProjectUri   = 'https://github.com/pcache/pcache'
            LicenseUri   = 'https://github.com/pcache/pcache/blob/main/LICENSE'
            ReleaseNotes = @'
0.1.0 (in progress)
- Cmdlets: Start-, Initialize-, Stop- and Get-PCacheCache; Add-, Remove-, Get-, Set- and
  Sync-PCacheBacking; Get-PCacheStat (snapshots, or -Continuous samples with rates) and
  Clear-PCacheStat; Get-PCacheDaemon and Test-PCacheDaemon.
- Start-PCacheDaemon and Stop-PCacheDaemon run the module's own engine (bin/pcache) for
  interactive use without systemd.
- Typed, numeric output objects (PCache.Cache, PCache.Backing, PCache.Stat, PCache.StatSample,
  PCache.DaemonInfo, PCache.StoppedCache, PCache.RemovedBacking); units only in the format views.
- -WhatIf/-Confirm on every command that changes state; Add-PCacheBacking is idempotent.
- Tab completion of backing ids, cache ids and paths; help for every command (Get-Help) and
  about_PCache.
'@
        }
    }
}

#
# Module manifest for PCache. Evaluated in restricted language mode: keep it literal.
# Every file name below must match the on-disk case exactly (Linux).
#
@{
    RootModule           = 'PCache.dll'
    NestedModules        = @('PCache.psm1')
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
    # The cmdlets are listed here when they arrive with the module issue.
    CmdletsToExport      = @()
    FunctionsToExport    = @('Get-PCacheEnginePath')
    AliasesToExport      = @()
    VariablesToExport    = @()

    PrivateData          = @{
        PSData = @{
            Tags         = @('PSEdition_Core', 'Linux', 'Cache', 'Storage', 'PersistentMemory', 'PMem', 'NBD', 'BlockDevice')
            # The repository has no public home yet: confirm these two addresses before publishing.
            ProjectUri   = 'https://github.com/pcache/pcache'
            LicenseUri   = 'https://github.com/pcache/pcache/blob/main/LICENSE'
            ReleaseNotes = @'
0.1.0 (in progress)
- Module layout: PCache.dll (cmdlets, coming with the module issue), PCache.psm1,
  PCache.format.ps1xml and the native engine bin/pcache.
- Get-PCacheEnginePath returns the path of the native engine shipped with the module.
'@
        }
    }
}

# PCache.psm1: the script part of the PCache module, loaded as a nested module of PCache.psd1.
# The cmdlets live in PCache.dll; this file holds what is simpler in script.

function Get-PCacheEnginePath {
    <#
    .SYNOPSIS
    Gets the path of the native PCache engine that ships with this module.

    .DESCRIPTION
    The PCache module carries its native engine, the `pcache` executable, in the bin folder
    next to the module manifest. Get-PCacheEnginePath returns the full path of that file, so
    scripts can start the daemon or run the CLI that belongs to this version of the module.
    It writes an error when the file is missing, which means the module folder is incomplete.

    .OUTPUTS
    System.String

    .EXAMPLE
    PS> Get-PCacheEnginePath
    /home/me/.local/share/powershell/Modules/PCache/0.1.0/bin/pcache

    .EXAMPLE
    PS> & (Get-PCacheEnginePath -ErrorAction Stop) demo
    Runs the engine's demo.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()

    $path = Join-Path -Path $PSScriptRoot -ChildPath 'bin/pcache'
    if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
        $exception = [System.IO.FileNotFoundException]::new(
            "The PCache engine was not found at '$path'. The module folder is incomplete: rebuild it with ./build.sh.", $path)
        $record = [System.Management.Automation.ErrorRecord]::new(
            $exception, 'PCacheEngineNotFound', [System.Management.Automation.ErrorCategory]::ObjectNotFound, $path)
        $PSCmdlet.WriteError($record)
        return
    }
    $path
}

Export-ModuleMember -Function 'Get-PCacheEnginePath'

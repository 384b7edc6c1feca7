# PCache.psm1: the script part of the PCache module, loaded as a nested module of PCache.psd1.
# The cmdlets live in PCache.dll; this file holds what belongs in script: running the module's own
# engine as a daemon for interactive use without systemd. The process work itself is in
# PCache.Core.dll ([PCache.Core.DaemonLauncher]), where xunit tests it against the real engine.
# Help for these functions comes from the same MAML file as the cmdlets' (docs/*.md).

Set-StrictMode -Version 3.0

# The system service's socket (systemd's RuntimeDirectory=pcache).
$script:SystemSocket = '/run/pcache/pcache.sock'

# Turns a failure of the core (PCache.Core.PCacheCommandException, usually wrapped in a
# MethodInvocationException by PowerShell) into the ErrorRecord the cmdlets would write. Anything
# else becomes the error -FallbackId, in the words of the innermost exception: a user should never
# read "Exception calling "Start" with "5" argument(s)".
function ConvertTo-PCacheErrorRecord {
    param(
        [System.Management.Automation.ErrorRecord] $Caught,
        [string] $FallbackId = 'PCacheUnexpectedError',
        [System.Management.Automation.ErrorCategory] $FallbackCategory = 'InvalidOperation',
        [object] $FallbackTarget
    )

    $exception = $Caught.Exception
    while ($null -ne $exception -and $exception -isnot [PCache.Core.PCacheCommandException]) {
        $exception = $exception.InnerException
    }
    if ($null -eq $exception) {
        $inner = $Caught.Exception
        while ($inner -is [System.Management.Automation.MethodInvocationException] -and $null -ne $inner.InnerException) {
            $inner = $inner.InnerException
        }
        $record = [System.Management.Automation.ErrorRecord]::new($inner, $FallbackId, $FallbackCategory, $FallbackTarget)
        $record.ErrorDetails = [System.Management.Automation.ErrorDetails]::new($inner.Message)
        return $record
    }
    $e = $exception.Error
    $record = [System.Management.Automation.ErrorRecord]::new(
        $e.Exception, $e.ErrorId, [System.Management.Automation.ErrorCategory]$e.Category, $e.Target)
    $record.ErrorDetails = [System.Management.Automation.ErrorDetails]::new($e.Message)
    $record.ErrorDetails.RecommendedAction = $e.RecommendedAction
    $record
}

# A NuGet package (Install-PSResource) keeps no Unix file modes: the engine arrives without its
# execute bits. Give them back, where this user may; the mode is the file's own plus execute.
function Restore-PCacheEngineMode {
    param([string] $Path)
    $mode = [System.IO.File]::GetUnixFileMode($Path)
    if ($mode.HasFlag([System.IO.UnixFileMode]::UserExecute)) {
        return $true
    }
    try {
        $execute = [System.IO.UnixFileMode]'UserExecute, GroupExecute, OtherExecute'
        [System.IO.File]::SetUnixFileMode($Path, $mode -bor $execute)
        return $true
    }
    catch [System.UnauthorizedAccessException] {
        return $false
    }
}

function Get-PCacheEnginePath {
    # .EXTERNALHELP PCache.dll-Help.xml
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter()]
        [switch] $Verify
    )

    $path = Join-Path -Path $PSScriptRoot -ChildPath 'bin/pcache'
    if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
        $exception = [System.IO.FileNotFoundException]::new(
            "The PCache engine was not found at '$path'. The module folder is incomplete: rebuild it with ./build.sh.", $path)
        $record = [System.Management.Automation.ErrorRecord]::new(
            $exception, 'PCacheEngineNotFound', [System.Management.Automation.ErrorCategory]::ObjectNotFound, $path)
        $PSCmdlet.WriteError($record)
        return
    }
    if (-not (Restore-PCacheEngineMode $path)) {
        $exception = [System.UnauthorizedAccessException]::new(
            "The PCache engine at '$path' is not executable, and this user may not change that.")
        $record = [System.Management.Automation.ErrorRecord]::new(
            $exception, 'PCacheEngineNotExecutable', [System.Management.Automation.ErrorCategory]::PermissionDenied, $path)
        $record.ErrorDetails = [System.Management.Automation.ErrorDetails]::new($exception.Message)
        $record.ErrorDetails.RecommendedAction = "Run 'chmod 0755 $path' as its owner (root for a module installed with -Scope AllUsers)."
        $PSCmdlet.WriteError($record)
        return
    }
    if ($Verify) {
        $version = & $path --version 2>&1
        if ($LASTEXITCODE -ne 0) {
            $exception = [System.InvalidOperationException]::new("The PCache engine at '$path' does not run on this machine: $version")
            $record = [System.Management.Automation.ErrorRecord]::new(
                $exception, 'PCacheEngineNotRunnable', [System.Management.Automation.ErrorCategory]::NotInstalled, $path)
            $PSCmdlet.WriteError($record)
            return
        }
        Write-Verbose "The PCache engine at $path runs: $version"
    }
    $path
}

function Start-PCacheDaemon {
    # .EXTERNALHELP PCache.dll-Help.xml
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    [OutputType('PCache.DaemonInfo')]
    param(
        [Parameter(Position = 0)]
        [ValidateNotNullOrEmpty()]
        [string] $SocketPath,

        [Parameter()]
        [ValidateNotNullOrEmpty()]
        [string] $ConfigPath,

        [Parameter()]
        [ValidateNotNullOrEmpty()]
        [string] $NbdListen,

        [Parameter()]
        [ValidateRange(1, 3600)]
        [int] $TimeoutSec = 30
    )

    if ($PSBoundParameters.ContainsKey('SocketPath')) {
        $socket = $PSCmdlet.GetUnresolvedProviderPathFromPSPath($SocketPath)
    }
    elseif (-not [string]::IsNullOrEmpty($env:PCACHE_SOCKET)) {
        $socket = [System.IO.Path]::GetFullPath($env:PCACHE_SOCKET)
    }
    else {
        # A daemon run by systemd answers on the system socket: that is the one to use.
        $system = [PCache.Core.DaemonLauncher]::Find($script:SystemSocket)
        if ($null -ne $system) {
            Write-Verbose "The system's PCache daemon (pid $($system.Pid)) answers on $($script:SystemSocket); not starting another."
            return $system
        }
        $socket = [PCache.Core.DaemonLauncher]::PrivateSocketPath()
    }

    $running = [PCache.Core.DaemonLauncher]::Find($socket)
    if ($null -ne $running) {
        Write-Verbose "A PCache daemon (pid $($running.Pid)) already answers on $socket."
    }
    else {
        $engine = Get-PCacheEnginePath -ErrorAction Stop
        if (-not $PSCmdlet.ShouldProcess($socket, "Start the PCache daemon $engine")) {
            return
        }
        $arguments = [System.Collections.Generic.List[string]]::new()
        if ($PSBoundParameters.ContainsKey('ConfigPath')) {
            $arguments.Add('--config')
            $arguments.Add($PSCmdlet.GetUnresolvedProviderPathFromPSPath($ConfigPath))
        }
        if ($PSBoundParameters.ContainsKey('NbdListen')) {
            $arguments.Add('--nbd-listen')
            $arguments.Add($NbdListen)
        }
        try {
            $running = [PCache.Core.DaemonLauncher]::Start(
                $engine, $socket, $arguments, [TimeSpan]::FromSeconds($TimeoutSec), [System.Threading.CancellationToken]::None)
        }
        catch {
            $PSCmdlet.ThrowTerminatingError((ConvertTo-PCacheErrorRecord $_ -FallbackId 'PCacheDaemonStartFailed' -FallbackCategory ResourceUnavailable -FallbackTarget $socket))
        }
        Write-Verbose "Started the PCache daemon (pid $($running.Pid)) on $socket; its log is $($running.LogPath)."
    }

    # The session's cmdlets (and the pcache CLI run from it) find this daemon from now on.
    if ($env:PCACHE_SOCKET -ne $socket) {
        Write-Verbose "Setting `$env:PCACHE_SOCKET to $socket."
        $env:PCACHE_SOCKET = $socket
    }
    $running
}

function Stop-PCacheDaemon {
    # .EXTERNALHELP PCache.dll-Help.xml
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param(
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = $true)]
        [ValidateNotNullOrEmpty()]
        [string] $SocketPath,

        [Parameter()]
        [ValidateRange(1, 3600)]
        [int] $TimeoutSec = 60
    )

    process {
        $target = @{}
        if ($PSBoundParameters.ContainsKey('SocketPath')) {
            $target['SocketPath'] = $SocketPath
        }
        # Not running is a terminating error from Get-PCacheDaemon; rethrown as this command's own,
        # so its id reads PCacheDaemonNotRunning,Stop-PCacheDaemon.
        try {
            $daemon = Get-PCacheDaemon @target -ErrorAction Stop
        }
        catch {
            $inner = $_
            $record = [System.Management.Automation.ErrorRecord]::new(
                $inner.Exception, ($inner.FullyQualifiedErrorId -split ',')[0], $inner.CategoryInfo.Category, $inner.TargetObject)
            $record.ErrorDetails = $inner.ErrorDetails
            $PSCmdlet.ThrowTerminatingError($record)
        }
        $what = "PCache daemon (pid $($daemon.Pid)) at $($daemon.SocketPath)"
        if (-not $PSCmdlet.ShouldProcess($what, 'Stop the daemon: its NBD exports close and dirty data stays in the cache devices')) {
            return
        }
        try {
            [PCache.Core.DaemonLauncher]::Stop($daemon.Pid, [TimeSpan]::FromSeconds($TimeoutSec), [System.Threading.CancellationToken]::None)
        }
        catch {
            $PSCmdlet.ThrowTerminatingError((ConvertTo-PCacheErrorRecord $_ -FallbackId 'PCacheDaemonStopFailed' -FallbackCategory OperationTimeout -FallbackTarget $daemon.Pid))
        }
        Write-Verbose "Stopped the $what."
    }
}

Export-ModuleMember -Function 'Get-PCacheEnginePath', 'Start-PCacheDaemon', 'Stop-PCacheDaemon'

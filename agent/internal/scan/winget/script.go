package winget

import "github.com/redflag-io/redflag/agent/internal/scan"

// exitNoClientModule is ClientScript's exit code when the
// Microsoft.WinGet.Client module is not installed.
const exitNoClientModule = 3

// ClientScript lists upgradable packages through the Microsoft.WinGet.Client
// PowerShell module as a JSON array, ASCII only, for ParseClientJSON. It
// exits with code 3 when the module is not installed.
const ClientScript = `$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
if (-not (Get-Module -ListAvailable -Name Microsoft.WinGet.Client)) { exit 3 }
Import-Module Microsoft.WinGet.Client
$items = foreach ($p in Get-WinGetPackage) {
  if (-not $p.IsUpdateAvailable) { continue }
  $installed = if ($p.PSObject.Properties['InstalledVersion']) { $p.InstalledVersion } else { $p.Version }
  [pscustomobject]@{
    Name              = [string]$p.Name
    Id                = [string]$p.Id
    Version           = [string]$installed
    AvailableVersions = [string[]]@($p.AvailableVersions)
    Source            = [string]$p.Source
    IsUpdateAvailable = $true
  }
}
$json = ConvertTo-Json -InputObject @($items) -Depth 3 -Compress
` + scan.PSEscapeNonASCII + `
`

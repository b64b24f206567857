package wua

import "github.com/redflag-io/redflag/agent/internal/scan"

// SearchCriteria selects the updates the scan reports.
const SearchCriteria = "IsInstalled=0 and IsHidden=0"

// SearchScript searches with the WUA COM API and prints the results as a
// JSON array, ASCII only, for Parse. A failed search throws, so
// powershell.exe exits non-zero with the COM error on stderr.
const SearchScript = `$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$session = New-Object -ComObject Microsoft.Update.Session
$searcher = $session.CreateUpdateSearcher()
$result = $searcher.Search('` + SearchCriteria + `')
if ($result.ResultCode -ge 4) { throw "Windows Update search failed with result code $($result.ResultCode)" }
$items = foreach ($u in $result.Updates) {
  [pscustomobject]@{
    Title        = [string]$u.Title
    KBArticleIDs = [string[]]@($u.KBArticleIDs)
    MsrcSeverity = [string]$u.MsrcSeverity
    Categories   = @(foreach ($c in $u.Categories) {
      [pscustomobject]@{ Name = [string]$c.Name; CategoryID = [string]$c.CategoryID; Type = [string]$c.Type }
    })
    UpdateID     = [string]$u.Identity.UpdateID
  }
}
$json = ConvertTo-Json -InputObject @($items) -Depth 4 -Compress
` + scan.PSEscapeNonASCII + `
`

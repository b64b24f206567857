package wua

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/redflag-io/redflag/agent/internal/scan"
	scanwua "github.com/redflag-io/redflag/agent/internal/scan/wua"
)

// Result codes of IUpdateInstaller and IInstallationResult
// (OperationResultCode).
const (
	resultSucceeded           = 2
	resultSucceededWithErrors = 3
	resultFailed              = 4
	resultAborted             = 5
)

// InstallScript returns the PowerShell script installing the pending
// updates titled titles. The [string[]] cast matters: Windows PowerShell
// 5.1's ConvertFrom-Json emits a JSON array as one object, which
// -contains would not look into. The titles travel inside a single-quoted
// PowerShell string holding JSON with every non-ASCII character
// escaped, so neither PowerShell's typographic quotes nor the console
// code page can alter them.
func InstallScript(titles []string) (string, error) {
	lit, err := psJSONLiteral(titles)
	if err != nil {
		return "", err
	}
	return `$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$wanted = [string[]](ConvertFrom-Json ` + lit + `)
$session = New-Object -ComObject Microsoft.Update.Session
$session.ClientApplicationID = 'RedFlag agent'
$searcher = $session.CreateUpdateSearcher()
$result = $searcher.Search('` + scanwua.SearchCriteria + `')
if ($result.ResultCode -ge 4) { throw "Windows Update search failed with result code $($result.ResultCode)" }
$updates = New-Object -ComObject Microsoft.Update.UpdateColl
foreach ($u in $result.Updates) {
  if ($wanted -contains [string]$u.Title) {
    if (-not $u.EulaAccepted) { $u.AcceptEula() }
    [void]$updates.Add($u)
  }
}
$out = [ordered]@{ Found = [int]$updates.Count; DownloadResult = 0; InstallResult = 0; HResult = 0; RebootRequired = $false; Updates = @() }
if ($updates.Count -gt 0) {
  $downloader = $session.CreateUpdateDownloader()
  $downloader.Updates = $updates
  $out.DownloadResult = [int]$downloader.Download().ResultCode
  $installer = $session.CreateUpdateInstaller()
  $installer.ForceQuiet = $true
  $installer.AllowSourcePrompts = $false
  $installer.Updates = $updates
  $res = $installer.Install()
  $out.InstallResult = [int]$res.ResultCode
  $out.HResult = [int]$res.HResult
  $out.RebootRequired = [bool]$res.RebootRequired
  $out.Updates = @(for ($i = 0; $i -lt $updates.Count; $i++) {
    $u = $updates.Item($i)
    $r = $res.GetUpdateResult($i)
    [pscustomobject]@{
      Title          = [string]$u.Title
      KBArticleIDs   = [string[]]@($u.KBArticleIDs)
      ResultCode     = [int]$r.ResultCode
      HResult        = [int]$r.HResult
      RebootRequired = [bool]$r.RebootRequired
    }
  })
}
$json = ConvertTo-Json -InputObject ([pscustomobject]$out) -Depth 4 -Compress
` + scan.PSEscapeNonASCII + `
`, nil
}

// psJSONLiteral renders v as JSON, ASCII only (\uXXXX escapes), inside a
// single-quoted PowerShell string with its single quotes doubled.
func psJSONLiteral(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("encoding the update titles: %w", err)
	}
	var ascii strings.Builder
	for _, r := range strings.TrimSpace(b.String()) {
		switch {
		case r == '\'':
			ascii.WriteString("''")
		case r < 0x20 || r > 0x7e:
			// json.Encoder already escaped control characters; this
			// catches the rest, surrogate pairs included.
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&ascii, `\u%04x`, u)
			}
		default:
			ascii.WriteRune(r)
		}
	}
	return "'" + ascii.String() + "'", nil
}

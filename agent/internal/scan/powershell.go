package scan

import (
	"encoding/base64"
	"unicode/utf16"
)

// PowerShellCommand returns a Command running script in Windows PowerShell
// without profile, prompts or execution-policy checks. The script travels
// as -EncodedCommand (UTF-16LE, base64), so no quoting or shell is
// involved. Scripts should print ASCII only (escape the rest as \uXXXX in
// JSON) so the console code page cannot garble their output.
func PowerShellCommand(script string, okExit ...int) Command {
	return Command{
		Path: "powershell.exe",
		Args: []string{
			"-NoLogo", "-NoProfile", "-NonInteractive",
			"-ExecutionPolicy", "Bypass",
			"-EncodedCommand", EncodePowerShell(script),
		},
		OKExit: okExit,
	}
}

// EncodePowerShell encodes script for powershell.exe -EncodedCommand.
func EncodePowerShell(script string) string {
	units := utf16.Encode([]rune(script))
	b := make([]byte, 2*len(units))
	for i, u := range units {
		b[2*i] = byte(u)
		b[2*i+1] = byte(u >> 8)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// PSEscapeNonASCII is a PowerShell fragment for scripts to end with: it
// rewrites every non-ASCII UTF-16 unit of $json as a \uXXXX escape and
// writes the result, so the output is the same whatever the console's
// code page.
const PSEscapeNonASCII = `[regex]::Replace($json, '[^\x00-\x7F]', { param($m) '\u{0:x4}' -f [int][char]$m.Value })`

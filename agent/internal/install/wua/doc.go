// Package wua installs Windows Update updates through the Windows Update
// Agent COM API, the way the wua scanner searches: Windows PowerShell
// running a script (InstallScript) passed as -EncodedCommand, so nothing
// is quoted through a shell.
//
// The script searches "IsInstalled=0 and IsHidden=0" again, keeps the
// updates whose titles the rollout selected (the titles the scan
// reported), accepts their EULAs, downloads and installs them quietly
// (ForceQuiet, so an update that would need a user fails instead of
// waiting for one), and prints one JSON object (ParseReport): the overall
// result, RebootRequired, and per update its title, KB ids, result code
// and HRESULT. Non-ASCII is escaped, as in the scanner.
//
// Windows Update resolves nothing a rollout could approve in advance (an
// update is self-contained), so the plan is the selection: the title and
// its KB ids. A rollout names an update by title or by KB id
// ("KB5037771" or "5037771"), which is what spec.packages.names can
// hold; exclude globs match both.
//
// Only the parts that run PowerShell are built on Windows; the script
// builder and the report parser are tested everywhere.
package wua

// Package winget scans a Windows host for application upgrades offered by
// the Windows Package Manager.
//
// Two real outputs are parsed:
//
//   - ParseTable reads the text table `winget upgrade` prints (the same as
//     `winget list --upgrade-available`): a header row (Name, Id, Version,
//     Available and, when any package has one, Source; localised), a line
//     of dashes, one row per package, then prose such as "3 upgrades
//     available." and possibly a second table of packages that "require
//     explicit targeting". Columns are fixed-width, located from the header,
//     and measured the way winget measures them: in terminal cells, East
//     Asian wide and fullwidth characters counting two (winget 1.6 and
//     later), or in characters (older releases); a row that does not fit
//     one measure is tried with the other. When its output is redirected,
//     winget sizes the table to 120 columns and cuts overlong cells with
//     "…", so a long Id may arrive truncated; it is reported as printed.
//   - ParseClientJSON reads the JSON the Runner's PowerShell script prints
//     from the Microsoft.WinGet.Client module (Get-WinGetPackage), which
//     has no truncation and no localisation, and is preferred when the
//     module is installed.
//
// winget has no other structured upgrade listing: `winget export` writes
// installed package ids without available versions, so it is not used.
// Name is the package Id (what `winget upgrade --id` takes); winget carries
// no security classification, so Security is always false.
//
// The runner builds on Windows only; the parsers build and are tested
// everywhere.
package winget

// Package winget upgrades applications with the Windows Package Manager.
//
// winget has no dry run and no way to list, before installing, the
// dependencies a manifest declares, so the plan is the selection itself
// (the packages and the versions the scan saw). When the rollout does
// not allow new dependencies, every upgrade runs with
// --skip-dependencies, so winget installs nothing the rollout did not
// name; with allowNewDependencies it resolves them as usual. Each
// selected package is upgraded alone:
//
//	winget upgrade --id <id> --exact --silent --accept-package-agreements
//	  --accept-source-agreements --disable-interactivity [--skip-dependencies]
//
// and judged by winget's exit code (Interpret): success, "no applicable
// upgrade" (nothing done), success with a reboot required, or a failure
// explained with the last lines winget printed. Afterwards the scan is
// run again: a package still listed at its old version was not upgraded,
// whatever winget said, and is reported so.
//
// The parts that run winget are built on Windows only; argument building
// and Interpret are tested everywhere on recorded-format output.
package winget

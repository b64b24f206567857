// Package installer is the contract between the install orchestrator
// (package install) and the installer of each package manager (the
// sub-packages apt, dnf, docker, winget and wua).
//
// An Installer lists the updates its manager offers (with the scanner the
// agent already runs, so an install sees what the last scan reported),
// says by which names a rollout selects an update, resolves what
// installing a selection would really change (a dry run by the package
// manager itself: new dependencies, extra upgrades and removals
// included), and installs. The orchestrator decides what to select and
// whether a plan is acceptable; an Installer never widens the selection
// it is given.
//
// It also holds what the installers share: Change and Plan, the bounded
// runner for install commands whose output is only worth its tail, and
// the error kinds the orchestrator turns into failure reasons.
package installer

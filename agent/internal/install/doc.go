// Package install carries out the package part of a rollout on this host:
// it picks the pending updates a rollout selects, has each package
// manager resolve what installing them would really change, refuses a
// plan that goes beyond the rollout, and installs.
//
// Run works in two passes over the selected managers present on the host
// (apt, dnf and Docker on Linux; winget and Windows Update on Windows):
//
//  1. Plan, per manager: list the pending updates with the same scanner
//     the agent reports from (apt and dnf refresh their metadata first),
//     select them by scope (Named, All, Security), names and exclude
//     globs, and ask the manager for a dry run of exactly that selection
//     (apt-get -s, dnf --assumeno; Docker lists the containers it would
//     recreate). A plan that would change a package the rollout did not
//     select fails the whole install with NewDependencies unless
//     allowNewDependencies is set; one that touches an excluded package
//     fails with ExcludedPackage and one that removes packages with
//     PackageRemovals, whatever the flag says. Every manager is planned
//     before anything is installed, so a refused plan installs nothing
//     anywhere.
//  2. Install, manager after manager (never two package managers at
//     once: they lock the system separately, and a failure must name one
//     manager), reading versions back from the system afterwards. The
//     first failing manager stops the install; the Outcome returned with
//     its *Failure still lists what the managers before it changed, and
//     the Message names what was done, what failed and what was not
//     attempted.
//
// With dryRun only the first pass runs and the Outcome lists the planned
// changes.
//
// Absent managers: a manager that is not installed on this host is
// skipped, whether or not the rollout named it, so a fleet-wide rollout
// does not fail hosts that simply lack Docker. The one exception: a
// Named rollout restricted to managers none of which is present fails
// with ManagerUnavailable, because it asked for specific packages from a
// manager this host cannot offer, which is a targeting mistake the user
// should see. A Named rollout whose names are simply not pending here is
// a success with nothing to install.
//
// Each manager's planning and its install each run under Options.Timeout.
// Only names a package manager itself reported are ever passed to it; a
// rollout's names and globs only select among them.
package install

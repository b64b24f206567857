package dnf

import (
	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// Merge turns check-update entries into PendingUpdates: the installed
// version comes from inst, and an upgrade is Security when a security
// advisory names the same name.arch (an advisory's package may be older
// than the newest candidate, whose upgrade still carries the fix). Entries
// of several architectures collapse into one per package name, Security if
// any is. Obsoleting packages that are not an upgrade of their own name
// are reported with no current version.
func Merge(upgrades []Upgrade, inst Installed, advisories []Advisory) []protocol.PendingUpdate {
	secure := make(map[string]bool)
	for _, a := range advisories {
		if a.Security {
			secure[a.Name+"."+a.Arch] = true
		}
	}
	var list scan.List
	for _, u := range upgrades {
		list.Add(protocol.PendingUpdate{
			Manager:          protocol.ManagerDnf,
			Name:             u.Name,
			CurrentVersion:   inst.version(u.Name, u.Arch),
			AvailableVersion: u.EVR,
			Security:         secure[u.Name+"."+u.Arch],
			Source:           u.Repo,
		})
	}
	return list.Items()
}

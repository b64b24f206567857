package winget

import (
	"fmt"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

// clientPackage is one package as ClientScript prints it: the properties
// of Microsoft.WinGet.Client's PSInstalledCatalogPackage.
type clientPackage struct {
	Name    string `json:"Name"`
	ID      string `json:"Id"`
	Version string `json:"Version"`
	// InstalledVersion is the property's name in module releases before 1.0.
	InstalledVersion  string         `json:"InstalledVersion"`
	AvailableVersions scan.PSStrings `json:"AvailableVersions"`
	Source            string         `json:"Source"`
	IsUpdateAvailable *bool          `json:"IsUpdateAvailable"`
}

// ParseClientJSON reads the ConvertTo-Json output of ClientScript (or any
// `Get-WinGetPackage | ConvertTo-Json` of the same properties): an array, a
// single object or nothing. Packages without an update are skipped; the
// first of AvailableVersions, which winget sorts newest first, is the
// candidate. A decoding error is returned wrapped.
func ParseClientJSON(data []byte) ([]protocol.PendingUpdate, error) {
	pkgs, err := scan.DecodePSArray[clientPackage](data)
	if err != nil {
		return nil, fmt.Errorf("winget client output: %w", err)
	}
	var list scan.List
	for _, p := range pkgs {
		current := p.Version
		if current == "" {
			current = p.InstalledVersion
		}
		available := ""
		if len(p.AvailableVersions) > 0 {
			available = p.AvailableVersions[0]
		}
		if p.IsUpdateAvailable != nil && !*p.IsUpdateAvailable {
			continue
		}
		if p.IsUpdateAvailable == nil && (available == "" || available == current) {
			continue
		}
		list.Add(protocol.PendingUpdate{
			Manager:          protocol.ManagerWinget,
			Name:             p.ID,
			CurrentVersion:   current,
			AvailableVersion: available,
			Source:           p.Source,
		})
	}
	return list.Items(), nil
}

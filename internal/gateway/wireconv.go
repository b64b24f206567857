package gateway

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
)

// This file is the one place where the wire types of internal/protocol
// meet the API types: hosts send protocol values (the agent links no
// Kubernetes), and the gateway turns each report payload into API types
// here, before clamping and storing it. wireconv_test.go fails when a
// field exists on one side and not the other, so a field added to an API
// type is never dropped on the way in silently.

// scanReport is a protocol.ScanResult with its payload in API types.
type scanReport struct {
	Subsystem   string                     `json:"subsystem"`
	ID          string                     `json:"id"`
	Result      redflagv1.RunResult        `json:"result"`
	Message     string                     `json:"message,omitempty"`
	Finished    time.Time                  `json:"finished"`
	Updates     *redflagv1.UpdateInventory `json:"updates,omitempty"`
	Docker      *redflagv1.DockerInventory `json:"docker,omitempty"`
	UpdatesHash string                     `json:"updatesHash,omitempty"`
}

// workReport is a protocol.WorkResult with its payload in API types.
type workReport struct {
	ID             string                    `json:"id"`
	AgentUpdate    string                    `json:"agentUpdate"`
	Phase          redflagv1.WorkPhase       `json:"phase"`
	Reason         string                    `json:"reason,omitempty"`
	Message        string                    `json:"message,omitempty"`
	Started        time.Time                 `json:"started"`
	Finished       *time.Time                `json:"finished,omitempty"`
	DryRun         bool                      `json:"dryRun,omitempty"`
	Changes        []redflagv1.PackageChange `json:"changes,omitempty"`
	RebootRequired bool                      `json:"rebootRequired,omitempty"`
	Rebooting      bool                      `json:"rebooting,omitempty"`
	FromVersion    string                    `json:"fromVersion,omitempty"`
	ToVersion      string                    `json:"toVersion,omitempty"`
}

// factsReport is a protocol.Facts with its payload in API types.
type factsReport struct {
	AgentVersion string                  `json:"agentVersion"`
	Hostname     string                  `json:"hostname"`
	OS           redflagv1.OSInfo        `json:"os"`
	System       redflagv1.SystemFacts   `json:"system"`
	Storage      []redflagv1.MountStatus `json:"storage,omitempty"`
	Hash         string                  `json:"hash"`
}

func scanFromWire(w *protocol.ScanResult) *scanReport {
	return &scanReport{
		Subsystem: w.Subsystem, ID: w.ID, Result: redflagv1.RunResult(w.Result), Message: w.Message, Finished: w.Finished,
		Updates: updatesFromWire(w.Updates), Docker: dockerFromWire(w.Docker), UpdatesHash: w.UpdatesHash,
	}
}

func workFromWire(w *protocol.WorkResult) *workReport {
	r := &workReport{
		ID: w.ID, AgentUpdate: w.AgentUpdate, Phase: redflagv1.WorkPhase(w.Phase), Reason: w.Reason, Message: w.Message,
		Started: w.Started, Finished: w.Finished, DryRun: w.DryRun, RebootRequired: w.RebootRequired, Rebooting: w.Rebooting,
		FromVersion: w.FromVersion, ToVersion: w.ToVersion,
	}
	for _, c := range w.Changes {
		r.Changes = append(r.Changes, redflagv1.PackageChange{Manager: redflagv1.PackageManager(c.Manager), Name: c.Name, From: c.From, To: c.To})
	}
	return r
}

func factsFromWire(w *protocol.Facts) *factsReport {
	f := &factsReport{
		AgentVersion: w.AgentVersion, Hostname: w.Hostname, OS: osInfoFromWire(w.OS), Hash: w.Hash,
		System: redflagv1.SystemFacts{
			CPUModel: w.System.CPUModel, CPUCores: w.System.CPUCores, MemoryBytes: w.System.MemoryBytes,
			BootTime: timeFromWire(w.System.BootTime), RebootRequired: w.System.RebootRequired, RebootReason: w.System.RebootReason,
		},
	}
	for _, m := range w.Storage {
		f.Storage = append(f.Storage, redflagv1.MountStatus{
			MountPoint: m.MountPoint, Device: m.Device, FSType: m.FSType, SizeBytes: m.SizeBytes, UsedBytes: m.UsedBytes,
		})
	}
	return f
}

func osInfoFromWire(o protocol.OSInfo) redflagv1.OSInfo {
	return redflagv1.OSInfo{
		Family: o.Family, Distribution: o.Distribution, Version: o.Version, PrettyName: o.PrettyName, Kernel: o.Kernel, Arch: o.Arch,
	}
}

// updatesFromWire leaves FirstSeen and SecuritySince unset: the gateway
// dates the items itself (carryFirstSeen).
func updatesFromWire(w *protocol.UpdateInventory) *redflagv1.UpdateInventory {
	if w == nil {
		return nil
	}
	inv := &redflagv1.UpdateInventory{
		Total: w.Total, Security: w.Security, ByManager: w.ByManager, Truncated: w.Truncated,
		ScannedAt: timeFromWire(w.ScannedAt), Hash: w.Hash,
	}
	for _, u := range w.Items {
		inv.Items = append(inv.Items, redflagv1.PendingUpdate{
			Manager: redflagv1.PackageManager(u.Manager), Name: u.Name, CurrentVersion: u.CurrentVersion,
			AvailableVersion: u.AvailableVersion, Security: u.Security, Held: u.Held, Source: u.Source,
		})
	}
	return inv
}

func dockerFromWire(w *protocol.DockerInventory) *redflagv1.DockerInventory {
	if w == nil {
		return nil
	}
	inv := &redflagv1.DockerInventory{
		ScannedAt: timeFromWire(w.ScannedAt), TotalContainers: w.TotalContainers, TotalImages: w.TotalImages,
		Truncated: w.Truncated, Hash: w.Hash,
	}
	for _, c := range w.Containers {
		inv.Containers = append(inv.Containers, redflagv1.DockerContainer{
			Name: c.Name, Image: c.Image, ImageID: c.ImageID, ImageDigest: c.ImageDigest, State: c.State,
			Created: timeFromWire(c.Created), Restarts: c.Restarts, Health: c.Health, Update: redflagv1.ImageUpdateState(c.Update),
		})
	}
	for _, i := range w.Images {
		inv.Images = append(inv.Images, redflagv1.DockerImage{
			Repository: i.Repository, Tag: i.Tag, ID: i.ID, Digest: i.Digest, Size: i.Size, Created: timeFromWire(i.Created),
		})
	}
	return inv
}

func timeFromWire(t *protocol.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	v := metav1.NewTime(t.Time)
	return &v
}

// packageWorkToWire is the other way: a rollout's package selection, with
// the Agent's holds already joined to exclude, as the work document
// carries it.
func packageWorkToWire(p *redflagv1.PackageSelection, exclude []string) *protocol.PackageWork {
	w := &protocol.PackageWork{
		Scope: protocol.PackageScope(p.Scope), Names: p.Names, Exclude: exclude, AllowNewDependencies: p.AllowNewDependencies,
	}
	for _, m := range p.Managers {
		w.Managers = append(w.Managers, protocol.PackageManager(m))
	}
	return w
}

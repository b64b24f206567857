package v1alpha1_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rf "github.com/redflag-io/redflag/api/v1alpha1"
)

// maxObjectJSON is RedFlag's own budget per object, far below etcd's 1.5 MiB
// request limit, so lists and watches of thousands of objects stay cheap.
// It was 256 KiB until completedWork kept 20 works with up to 15 package
// changes each (issue 14): that adds about 104 KB to the largest Agent
// (measured 369,647 bytes with status.docker full and every pending update
// dated by firstSeen; 20 changes per work made 404,147, over budget, hence
// 15), under a quarter of etcd's limit. Real Agents are far smaller: package names and
// versions are rarely near their 128- and 80-character bounds.
const maxObjectJSON = 384 << 10

// The largest objects are built with every bounded list full and every
// bounded string at its limit. Metadata (labels, annotations) is left out:
// users own it and Kubernetes bounds it itself.

func fill(prefix string, n int) string {
	if len(prefix) >= n {
		return prefix[:n]
	}
	return prefix + strings.Repeat("x", n-len(prefix))
}

// dnsName returns a valid 253-character DNS subdomain that ends in i, so
// entries of a list keyed by name differ.
func dnsName(i int) string {
	tail := fmt.Sprintf("%05d", i)
	return strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61-len(tail)) + tail
}

var now = metav1.NewTime(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))

func fullCommon() rf.CommonStatus {
	c := rf.CommonStatus{ObservedGeneration: 1 << 40, LastHandledRetry: fill("2026-", 64)}
	for i := range rf.MaxConditions {
		c.Conditions = append(c.Conditions, metav1.Condition{
			Type: fmt.Sprintf("Condition%d", i), Status: metav1.ConditionUnknown, ObservedGeneration: 1 << 40,
			LastTransitionTime: now, Reason: fill("Reason", 64), Message: fill("message ", rf.MaxConditionMessage),
		})
	}
	for i := range rf.MaxHistoryEntries {
		meta := map[string]string{}
		for j := range rf.MaxMetadataEntries {
			meta[fill(fmt.Sprintf("key%d", j), 63)] = fill("value", 128)
		}
		c.History = append(c.History, rf.HistoryEntry{
			Time: now, Type: "Warning", Reason: fill(fmt.Sprintf("Reason%d", i), 64), Severity: rf.SeverityCritical,
			Component: rf.ComponentMigration, Message: fill("message ", rf.MaxMessageLength), Metadata: meta,
		})
	}
	return c
}

func fullSelector() *metav1.LabelSelector {
	s := &metav1.LabelSelector{MatchLabels: map[string]string{}}
	for i := range 32 {
		s.MatchLabels[fill(fmt.Sprintf("example.com/key%d-", i), 75)] = fill("value", 63)
	}
	for i := range 8 {
		e := metav1.LabelSelectorRequirement{Key: fill(fmt.Sprintf("example.com/expr%d-", i), 75), Operator: metav1.LabelSelectorOpIn}
		for j := range 32 {
			e.Values = append(e.Values, fill(fmt.Sprintf("v%d-", j), 63))
		}
		s.MatchExpressions = append(s.MatchExpressions, e)
	}
	return s
}

func largestToken() *rf.RegistrationToken {
	maxUses := int32(100000)
	t := &rf.RegistrationToken{
		TypeMeta:   metav1.TypeMeta{APIVersion: "redflag.io/v1alpha1", Kind: "RegistrationToken"},
		ObjectMeta: metav1.ObjectMeta{Name: dnsName(0)},
		Spec: rf.RegistrationTokenSpec{
			TTL: &metav1.Duration{Duration: 8760 * time.Hour}, MaxUses: &maxUses,
			AgentLabels: map[string]rf.LabelValue{}, Description: fill("desc", 256),
		},
		Status: rf.RegistrationTokenStatus{
			CommonStatus: fullCommon(), Phase: rf.TokenExhausted, ExpiresAt: &now, UsedCount: 100000,
			TokenID: fill("abcdef", 16), TokenHash: strings.Repeat("f", 64), SecretName: dnsName(1),
		},
	}
	for i := range 32 {
		t.Spec.AgentLabels[fill(fmt.Sprintf("example.com/label%d-", i), 75)] = rf.LabelValue(fill("value", 63))
	}
	for i := range rf.MaxEnrolledAgents {
		t.Status.EnrolledAgents = append(t.Status.EnrolledAgents, rf.EnrolledAgent{Name: dnsName(i), Time: now})
	}
	return t
}

func largestAgent() *rf.Agent {
	a := &rf.Agent{
		TypeMeta:   metav1.TypeMeta{APIVersion: "redflag.io/v1alpha1", Kind: "Agent"},
		ObjectMeta: metav1.ObjectMeta{Name: dnsName(0)},
		Spec: rf.AgentSpec{
			MachineID: fill("m", 128), PublicKey: strings.Repeat("A", 43) + "=",
			CheckInInterval: &metav1.Duration{Duration: time.Hour}, Heartbeat: &rf.HeartbeatSpec{Until: now},
			DesiredVersion: fill("v1.2.3-", 64),
		},
		Status: rf.AgentStatus{
			CommonStatus: fullCommon(), AgentVersion: fill("v1.2.3-", 64), Hostname: dnsName(2),
			OS: rf.OSInfo{
				Family: fill("linux", 32), Distribution: fill("debian", 64), Version: fill("12", 64),
				PrettyName: fill("Debian", 128), Kernel: fill("6.1", 128), Arch: fill("amd64", 32),
			},
			LastSeen: &now, FactsHash: strings.Repeat("f", 64), ScanNowHandled: fill("2026-", 64),
			ReboundMachineID: fill("m", 128),
			System: rf.SystemFacts{
				CPUModel: fill("cpu", 128), CPUCores: 1 << 30, MemoryBytes: 1 << 62, BootTime: &now,
				RebootRequired: true, RebootReason: fill("reason", 256),
			},
			Updates: rf.UpdateInventory{
				Total: 1 << 30, Security: 1 << 30, Truncated: true, ScannedAt: &now, SecuritySince: &now, Hash: strings.Repeat("f", 64),
				ByManager: map[string]int32{"apt": 1 << 30, "dnf": 1 << 30, "docker": 1 << 30, "windows-update": 1 << 30, "winget": 1 << 30},
			},
			CurrentWork: &rf.WorkStatus{
				ID: fill("work", 300), AgentUpdate: dnsName(3), Phase: rf.WorkRolledBack, StartedAt: &now,
				FinishedAt: &now, Reason: fill("Reason", 64), Message: fill("message", 512), DryRun: true,
				FromVersion: fill("v1.2.3-", 64), ToVersion: fill("v1.2.4-", 64),
			},
		},
	}
	for i := range rf.MaxMounts {
		a.Status.Storage = append(a.Status.Storage, rf.MountStatus{
			MountPoint: fill(fmt.Sprintf("/mnt/%d/", i), 256), Device: fill("/dev/", 256), FSType: fill("ext4", 32),
			SizeBytes: 1 << 62, UsedBytes: 1 << 62,
		})
	}
	for i := range rf.MaxUpdateItems {
		a.Status.Updates.Items = append(a.Status.Updates.Items, rf.PendingUpdate{
			Manager: rf.ManagerWindowsUpdate, Name: fill(fmt.Sprintf("pkg%d-", i), 128),
			CurrentVersion: fill("1.0-", 80), AvailableVersion: fill("2.0-", 80), Security: true, Source: fill("src", 80),
			FirstSeen: &now,
		})
	}
	for i := range rf.MaxWorkChanges {
		a.Status.CurrentWork.Changes = append(a.Status.CurrentWork.Changes, rf.PackageChange{
			Manager: rf.ManagerWindowsUpdate, Name: fill(fmt.Sprintf("pkg%d-", i), 128), From: fill("1.0-", 80), To: fill("2.0-", 80),
		})
	}
	for i := range rf.MaxCompletedWork {
		r := rf.WorkRecord{
			ID: fill(fmt.Sprintf("work%d-", i), 300), AgentUpdate: dnsName(4), Phase: rf.WorkRolledBack, FinishedAt: now, Reason: fill("Reason", 64),
			DryRun: true, ChangesOmitted: 1 << 30, FromVersion: fill("v1.2.3-", 64), ToVersion: fill("v1.2.4-", 64),
		}
		for j := range rf.MaxRecordedChanges {
			r.Changes = append(r.Changes, rf.PackageChange{
				Manager: rf.ManagerWindowsUpdate, Name: fill(fmt.Sprintf("pkg%d-%d-", i, j), 128), From: fill("1.0-", 80), To: fill("2.0-", 80),
			})
		}
		a.Status.CompletedWork = append(a.Status.CompletedWork, r)
	}
	a.Status.Docker = &rf.DockerInventory{ScannedAt: &now, TotalContainers: 1 << 30, TotalImages: 1 << 30, Truncated: true, Hash: strings.Repeat("f", 64)}
	for i := range rf.MaxDockerContainers {
		a.Status.Docker.Containers = append(a.Status.Docker.Containers, rf.DockerContainer{
			Name: fill(fmt.Sprintf("c%d-", i), 128), Image: fill("image", 128), ImageID: fill("sha256:", 80), ImageDigest: fill("sha256:", 80),
			State: fill("restarting", 16), Created: &now, Restarts: 1 << 30, Health: fill("unhealthy", 16), Update: rf.ImageUpdateAvailable,
		})
	}
	for i := range rf.MaxDockerImages {
		a.Status.Docker.Images = append(a.Status.Docker.Images, rf.DockerImage{
			Repository: fill(fmt.Sprintf("repo%d-", i), 128), Tag: fill("tag", 128), ID: fill("sha256:", 80), Digest: fill("sha256:", 80),
			Size: 1 << 62, Created: &now,
		})
	}
	for _, name := range []string{"updates", "storage", "system", "docker"} {
		a.Status.Subsystems = append(a.Status.Subsystems, rf.SubsystemStatus{
			Name: name, LastRun: &now, Result: rf.RunTimedOut, Message: fill("message", 512),
		})
	}
	for i := range 50 {
		a.Spec.Holds = append(a.Spec.Holds, fill(fmt.Sprintf("held%d-", i), 128))
	}
	return a
}

func largestSchedule() *rf.ScanSchedule {
	enabled := true
	sub := func() *rf.SubsystemSchedule {
		return &rf.SubsystemSchedule{Enabled: &enabled, Interval: metav1.Duration{Duration: 168 * time.Hour}}
	}
	n := int32(1 << 30)
	return &rf.ScanSchedule{
		TypeMeta:   metav1.TypeMeta{APIVersion: "redflag.io/v1alpha1", Kind: "ScanSchedule"},
		ObjectMeta: metav1.ObjectMeta{Name: dnsName(0)},
		Spec: rf.ScanScheduleSpec{
			Selector: fullSelector(),
			Subsystems: rf.ScanSubsystems{
				Updates: &rf.UpdatesSchedule{SubsystemSchedule: *sub(), RefreshListsAfter: &metav1.Duration{Duration: 167*time.Hour + 59*time.Minute + 59*time.Second + 999999999}},
				Storage: sub(), System: sub(), Docker: sub(),
			},
			Splay: &metav1.Duration{Duration: time.Hour},
		},
		Status: rf.ScanScheduleStatus{
			CommonStatus: fullCommon(), MatchedAgents: n, DueAgents: n, OverdueAgents: n, LastEvaluated: &now,
		},
	}
}

func largestRollout() *rf.AgentUpdate {
	maxC, maxF := intstr.FromString("100%"), intstr.FromInt32(10000)
	u := &rf.AgentUpdate{
		TypeMeta:   metav1.TypeMeta{APIVersion: "redflag.io/v1alpha1", Kind: "AgentUpdate"},
		ObjectMeta: metav1.ObjectMeta{Name: dnsName(0)},
		Spec: rf.AgentUpdateSpec{
			Selector: fullSelector(),
			Packages: &rf.PackageSelection{
				Scope:                rf.ScopeNamed,
				Managers:             []rf.PackageManager{rf.ManagerApt, rf.ManagerDnf, rf.ManagerDocker, rf.ManagerWindowsUpdate, rf.ManagerWinget},
				AllowNewDependencies: true,
			},
			Strategy: rf.RolloutStrategy{MaxConcurrent: &maxC, MaxFailures: &maxF, Canary: 100, HostTimeout: &metav1.Duration{Duration: 23*time.Hour + 59*time.Minute + 59*time.Second}},
			Window: &rf.MaintenanceWindow{
				Days:  []rf.Weekday{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"},
				Start: "22:00", End: "04:00", TimeZone: fill("America/", 64),
			},
			Reboot: rf.RebootIfRequired, DryRun: true, Paused: true,
		},
		Status: rf.AgentUpdateStatus{
			CommonStatus: fullCommon(), Phase: rf.RolloutProgressing, WaitingOn: dnsName(9), WorkID: fill("work", 300),
			Counts: rf.RolloutCounts{Total: 1 << 30, Pending: 1 << 30, InProgress: 1 << 30, Succeeded: 1 << 30, Failed: 1 << 30, Skipped: 1 << 30},
		},
	}
	for i := range rf.MaxTargetAgents {
		u.Spec.Agents = append(u.Spec.Agents, dnsName(i))
	}
	for i := range 100 {
		u.Spec.Packages.Names = append(u.Spec.Packages.Names, fill(fmt.Sprintf("pkg%d-", i), 128))
	}
	for i := range 50 {
		u.Spec.Packages.Exclude = append(u.Spec.Packages.Exclude, fill(fmt.Sprintf("glob%d-*", i), 128))
	}
	for i := range rf.MaxSlots {
		u.Status.Slots = append(u.Status.Slots, rf.Slot{Agent: dnsName(i), Since: now})
	}
	for i := range rf.MaxFailureRecords {
		u.Status.Failures = append(u.Status.Failures, rf.HostFailure{
			Agent: dnsName(i), Time: now, Reason: fill("Reason", 64), Message: fill("message", 512),
		})
	}
	u.Spec.Recurrence = &rf.Recurrence{Every: metav1.Duration{Duration: 8760 * time.Hour}}
	u.Spec.PrometheusGate = &rf.PrometheusGate{URL: "https://" + fill("prometheus", 504), Query: fill("ALERTS", 1024)}
	u.Status.Run, u.Status.LastRun, u.Status.NextRun = 1<<30, &now, &now
	u.Status.RunPackages = u.Spec.Packages.DeepCopy()
	for i := range rf.MaxSkipRecords {
		u.Status.SkippedHosts = append(u.Status.SkippedHosts, rf.HostSkip{Agent: dnsName(i), Reason: fill("Reason", 64), Message: fill("message", rf.MaxSkipMessage)})
	}
	for i := range rf.MaxRunRecords {
		u.Status.Runs = append(u.Status.Runs, rf.RunRecord{
			Run: int32(i + 1), Started: now, Finished: &now, Result: rf.RunStopped, Hosts: 1 << 30, Succeeded: 1 << 30, Failed: 1 << 30, Skipped: 1 << 30,
		})
	}
	return u
}

func largestObjects() []client.Object {
	return []client.Object{largestToken(), largestAgent(), largestSchedule(), largestRollout()}
}

// TestLargestObjectsStaySmall is the unit half: the JSON of the largest
// object each kind allows stays under 256 KiB.
func TestLargestObjectsStaySmall(t *testing.T) {
	for _, obj := range largestObjects() {
		data, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		t.Logf("largest %s: %d bytes of JSON", kind, len(data))
		if len(data) >= maxObjectJSON {
			t.Errorf("largest %s is %d bytes of JSON, over the %d-byte budget", kind, len(data), maxObjectJSON)
		}
	}
}

// TestLargestObjectsAreAccepted is the integration half: the API server takes
// each largest object, spec and status, so the builders above really are
// within the schema's bounds (and the bounds are the schema's, not ours).
func TestLargestObjectsAreAccepted(t *testing.T) {
	ns := newNamespace(t)
	for _, obj := range largestObjects() {
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		t.Run(kind, func(t *testing.T) {
			ctx := t.Context()
			want := obj.DeepCopyObject().(client.Object)
			obj.SetNamespace(ns)
			if err := env.Client.Create(ctx, obj); err != nil {
				t.Fatalf("creating the largest %s: %v", kind, err)
			}
			// Create drops status; put it back through the status subresource.
			data, _ := json.Marshal(want)
			status := map[string]any{}
			_ = json.Unmarshal(data, &status)
			patch, _ := json.Marshal(map[string]any{"status": status["status"]})
			if err := env.Client.Status().Patch(ctx, obj, client.RawPatch("application/merge-patch+json", patch)); err != nil {
				t.Fatalf("writing the largest %s status: %v", kind, err)
			}
		})
	}
}

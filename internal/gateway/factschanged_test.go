package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
)

// TestFactsChangedOnlyWhenOSKernelOrArchChange: facts reports that only
// move disk usage record nothing; a new kernel records one FactsChanged
// with old and new values, in the history and as an Event.
func TestFactsChangedOnlyWhenOSKernelOrArchChange(t *testing.T) {
	h, _ := enrolledHost(t)
	ctx := context.Background()
	ns, name, _ := strings.Cut(h.id.Agent, "/")
	osInfo := protocol.OSInfo{Family: "linux", Distribution: "debian", Version: "12", PrettyName: "Debian GNU/Linux 12 (bookworm)", Arch: "amd64", Kernel: "6.1.0"}
	report := func(key string, o protocol.OSInfo, used int64) {
		t.Helper()
		f := &protocol.Facts{Hash: key, Hostname: "app-01", OS: o, Storage: []protocol.MountStatus{{MountPoint: "/", Device: "/dev/sda1", FSType: "ext4", SizeBytes: 100, UsedBytes: used}}}
		if _, err := host.Report(ctx, h.id, protocol.Report{IdempotencyKey: key, Kind: protocol.ReportFacts, Time: time.Now(), Facts: f}); err != nil {
			t.Fatal(err)
		}
	}
	changes := func() []redflagv1.HistoryEntry {
		var out []redflagv1.HistoryEntry
		for _, e := range getAgent(t, h.id.Agent).Status.History {
			if e.Reason == "FactsChanged" {
				out = append(out, e)
			}
		}
		return out
	}
	report("f1", osInfo, 10) // fills prettyName, which registration did not carry
	report("f2", osInfo, 20) // disk usage only
	eventually(t, "the second facts report stored", func() bool { return getAgent(t, h.id.Agent).Status.FactsHash == "f2" })
	if c := changes(); len(c) != 0 {
		t.Fatalf("FactsChanged without an OS, kernel or arch change: %+v", c)
	}
	upgraded := osInfo
	upgraded.Kernel = "6.1.0-28-amd64"
	report("f3", upgraded, 20)
	c := changes()
	if len(c) != 1 {
		t.Fatalf("%d FactsChanged entries after a kernel upgrade, want 1", len(c))
	}
	want := map[string]string{
		"oldOS": osInfo.PrettyName, "newOS": osInfo.PrettyName, "oldKernel": "6.1.0", "newKernel": "6.1.0-28-amd64",
		"oldArch": "amd64", "newArch": "amd64",
	}
	for k, v := range want {
		if c[0].Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q (all: %v)", k, c[0].Metadata[k], v, c[0].Metadata)
		}
	}
	if c[0].Message != "kernel 6.1.0 -> 6.1.0-28-amd64" {
		t.Errorf("message %q", c[0].Message)
	}
	if a := getAgent(t, h.id.Agent); a.Status.OS.Kernel != "6.1.0-28-amd64" || a.Status.FactsHash != "f3" {
		t.Errorf("the new facts were not stored: %+v %s", a.Status.OS, a.Status.FactsHash)
	}
	eventually(t, "a FactsChanged Event", func() bool { return len(eventNotes(t, ns, name, "FactsChanged")) == 1 })
	report("f4", upgraded, 30)
	eventually(t, "the fourth facts report stored", func() bool { return getAgent(t, h.id.Agent).Status.FactsHash == "f4" })
	if n := len(changes()); n != 1 {
		t.Errorf("%d FactsChanged entries after a disk-only report, want still 1", n)
	}
}

package install

import (
	"context"
	"errors"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/install/apt"
	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/internal/protocol"
)

// refreshingFake is a fake whose Pending refreshes package lists, as apt's
// does.
type refreshingFake struct{ *fake }

func (refreshingFake) Refreshes() bool { return true }

// TestOutcomeSaysWhetherListsWereRefreshed: an install or dry run with a
// present manager that refreshes its lists says so, also when it failed
// or had nothing to do; an absent one, or managers that do not refresh,
// do not.
func TestOutcomeSaysWhetherListsWereRefreshed(t *testing.T) {
	all := protocol.PackageWork{Scope: protocol.ScopeAll}
	tests := []struct {
		name   string
		dryRun bool
		insts  []installer.Installer
		want   bool
	}{
		{"dry run with apt", true, []installer.Installer{refreshingFake{aptFake()}}, true},
		{"install with apt", false, []installer.Installer{refreshingFake{aptFake()}}, true},
		{"nothing pending with apt", false, []installer.Installer{refreshingFake{&fake{m: mApt}}}, true},
		{"apt failed to list", false, []installer.Installer{refreshingFake{&fake{m: mApt, pendingErr: errors.New("E: broken")}}}, true},
		{"apt absent", false, []installer.Installer{refreshingFake{absentFake(mApt)}}, false},
		{"no refreshing manager", true, asInstallers(aptFake()), false},
	}
	for _, tt := range tests {
		out, _ := run(context.Background(), all, tt.dryRun, quiet(), tt.insts)
		if out.Refreshed != tt.want {
			t.Errorf("%s: Refreshed = %v, want %v (%s)", tt.name, out.Refreshed, tt.want, out.Message)
		}
	}
	if !(apt.Installer{}).Refreshes() || (apt.Installer{NoRefresh: true}).Refreshes() {
		t.Error("apt.Installer.Refreshes does not follow NoRefresh")
	}
}

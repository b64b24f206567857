package gateway

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/protocol/wiretest"
	"github.com/redflag-io/redflag/internal/rollout"
)

// gatewayOnly are the API types' fields the gateway sets itself and the
// wire types therefore lack (carryFirstSeen dates every pending update).
var gatewayOnly = map[string]bool{"PendingUpdate.FirstSeen": true, "UpdateInventory.SecuritySince": true}

// sameTypes are the leaves that match across the two sides without
// comparing their fields: protocol.Time travels as metav1.Time does.
var sameTypes = map[[2]reflect.Type]bool{
	{reflect.TypeFor[protocol.Time](), reflect.TypeFor[metav1.Time]()}: true,
	{reflect.TypeFor[time.Time](), reflect.TypeFor[time.Time]()}:       true,
}

// TestWireTypesMatchTheAPITypes: every wire type the gateway converts has
// exactly the fields of its API counterpart (the gateway-only ones aside),
// under the same JSON names and options, down to the nested types. A
// field added to an API type fails here until the wire type and wireconv.go
// carry it too, instead of being dropped on the way in.
func TestWireTypesMatchTheAPITypes(t *testing.T) {
	for _, pair := range [][2]any{
		{protocol.Facts{}, factsReport{}},
		{protocol.ScanResult{}, scanReport{}},
		{protocol.WorkResult{}, workReport{}},
		{protocol.OSInfo{}, redflagv1.OSInfo{}},
		{protocol.PackageWork{}, redflagv1.PackageSelection{}},
	} {
		matchFields(t, reflect.TypeOf(pair[0]), reflect.TypeOf(pair[1]))
	}
}

func matchFields(t *testing.T, wire, api reflect.Type) {
	t.Helper()
	for wire.Kind() == api.Kind() && (wire.Kind() == reflect.Pointer || wire.Kind() == reflect.Slice || wire.Kind() == reflect.Map) {
		if wire.Kind() == reflect.Map {
			matchFields(t, wire.Key(), api.Key())
		}
		wire, api = wire.Elem(), api.Elem()
	}
	if sameTypes[[2]reflect.Type{wire, api}] {
		return
	}
	if wire.Kind() != api.Kind() {
		t.Errorf("wire %s is a %s, API %s a %s", wire, wire.Kind(), api, api.Kind())
		return
	}
	if wire.Kind() != reflect.Struct {
		return
	}
	wf, af := fieldsOf(wire), fieldsOf(api)
	for name, a := range af {
		w, ok := wf[name]
		switch {
		case !ok && !gatewayOnly[api.Name()+"."+name]:
			t.Errorf("API %s.%s has no counterpart in the wire type %s: add it there and to wireconv.go", api.Name(), name, wire)
		case ok && w.Tag.Get("json") != a.Tag.Get("json"):
			t.Errorf("%s.%s: wire JSON tag %q, API %q", wire.Name(), name, w.Tag.Get("json"), a.Tag.Get("json"))
		case ok:
			matchFields(t, w.Type, a.Type)
		}
	}
	for name := range wf {
		if _, ok := af[name]; !ok {
			t.Errorf("wire %s.%s has no counterpart in the API type %s", wire.Name(), name, api)
		}
	}
}

func fieldsOf(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() {
			out[f.Name] = f
		}
	}
	return out
}

// TestWireConversionsCopyEveryField: a wire payload with every field set
// converts to API types that encode to the same JSON, so no conversion in
// wireconv.go forgets a field (or a time's value); and the other way for a
// rollout's package selection.
func TestWireConversionsCopyEveryField(t *testing.T) {
	same := func(what string, wire, api any) {
		t.Helper()
		w, errW := json.Marshal(wire)
		a, errA := json.Marshal(api)
		if errW != nil || errA != nil || string(w) != string(a) {
			t.Errorf("%s changes in conversion (%v, %v):\nwire %s\nAPI  %s", what, errW, errA, w, a)
		}
	}
	var sr protocol.ScanResult
	wiretest.Fill(t, &sr, false)
	same("a scan report", sr, scanFromWire(&sr))
	var wr protocol.WorkResult
	wiretest.Fill(t, &wr, false)
	same("a work report", wr, workFromWire(&wr))
	var f protocol.Facts
	wiretest.Fill(t, &f, false)
	same("a facts report", f, factsFromWire(&f))
	same("an OS", f.OS, osInfoFromWire(f.OS))
	var sel redflagv1.PackageSelection
	wiretest.Fill(t, &sel, false)
	same("a package selection", packageWorkToWire(&sel, sel.Exclude), sel)
	// Empty payloads stay empty (no lists or times appear from nothing).
	same("an empty scan report", protocol.ScanResult{}, scanFromWire(&protocol.ScanResult{}))
	same("an empty work report", protocol.WorkResult{}, workFromWire(&protocol.WorkResult{}))
	same("empty facts", protocol.Facts{}, factsFromWire(&protocol.Facts{}))
}

// TestWireConstantsMatchTheAPI: the enums and bounds the agent takes from
// the protocol are the API's, so a value the agent sends is one the API
// accepts, and a bound it keeps is the one the gateway clamps to.
func TestWireConstantsMatchTheAPI(t *testing.T) {
	type pair struct{ wire, api any }
	for _, p := range []pair{
		{protocol.MaxUpdateItems, redflagv1.MaxUpdateItems}, {protocol.MaxMounts, redflagv1.MaxMounts},
		{protocol.MaxWorkChanges, redflagv1.MaxWorkChanges}, {protocol.MaxDockerContainers, redflagv1.MaxDockerContainers},
		{protocol.MaxDockerImages, redflagv1.MaxDockerImages}, {protocol.DefaultRefreshListsAfter, redflagv1.DefaultRefreshListsAfter},
		{protocol.ReasonHostTimedOut, rollout.HostTimedOut},
	} {
		if p.wire != p.api {
			t.Errorf("protocol has %v where the API has %v", p.wire, p.api)
		}
	}
	for _, e := range []struct {
		name      string
		wire, api []string
	}{
		{"PackageManager", strs(protocol.ManagerApt, protocol.ManagerDnf, protocol.ManagerDocker, protocol.ManagerWindowsUpdate, protocol.ManagerWinget), strs(validManagers...)},
		{"RunResult", strs(protocol.RunSucceeded, protocol.RunFailed, protocol.RunTimedOut, protocol.RunSkipped), strs(validResults...)},
		{"WorkPhase (a host's)", strs(protocol.WorkRunning, protocol.WorkSucceeded, protocol.WorkFailed, protocol.WorkRolledBack, protocol.WorkSkipped), strs(reportablePhases...)},
		{"PackageScope", strs(protocol.ScopeNamed, protocol.ScopeAll, protocol.ScopeSecurity), strs(redflagv1.ScopeNamed, redflagv1.ScopeAll, redflagv1.ScopeSecurity)},
		{"RebootPolicy", strs(protocol.RebootNever, protocol.RebootIfRequired, protocol.RebootAlways), strs(redflagv1.RebootNever, redflagv1.RebootIfRequired, redflagv1.RebootAlways)},
		{"ImageUpdateState", strs(protocol.ImageUpToDate, protocol.ImageUpdateAvailable, protocol.ImageUpdateUnknown), strs(redflagv1.ImageUpToDate, redflagv1.ImageUpdateAvailable, redflagv1.ImageUpdateUnknown)},
	} {
		slices.Sort(e.wire)
		slices.Sort(e.api)
		if !slices.Equal(e.wire, e.api) {
			t.Errorf("%s: protocol has %v, the API %v", e.name, e.wire, e.api)
		}
	}
}

func strs[T ~string](v ...T) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = string(s)
	}
	return out
}

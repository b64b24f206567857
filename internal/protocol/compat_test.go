package protocol

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"testing"

	"github.com/redflag-io/redflag/internal/protocol/wiretest"
)

// wireBodies are the bodies recorded in testdata/v1alpha1-wire.json.
type wireBodies struct {
	Register     RegisterRequest `json:"register"`
	Report       Report          `json:"report"`
	WorkDocument WorkDocument    `json:"workDocument"`
}

type wireRecording struct {
	Full wireBodies `json:"full"`
	Zero wireBodies `json:"zero"`
}

// gatewayOnly are the API types' fields the gateway sets and no host ever
// sent, so the wire types lack them (see inventory.go).
var gatewayOnly = []string{"FirstSeen", "SecuritySince"}

// TestWireFormatUnchangedSinceTheAPITypes: testdata/v1alpha1-wire.json was
// recorded (testdata/record_test.go.txt says how) with the code of commit
// 88040ae, when the protocol's bodies carried api/v1alpha1 types: a
// registration, a report with every payload and a work document, filled by wiretest.Fill once with values in every
// field and once with zero leaves (which shows what is omitted). Hosts
// already deployed send exactly this. The protocol's own types, filled the
// same way, must encode it byte for byte, and must read it and encode it
// back unchanged: nothing dropped, renamed, reordered or re-encoded (the
// former metav1.Time fields stay RFC 3339 at whole seconds in UTC), so old
// agents and new gateways, and new agents and old gateways, agree.
func TestWireFormatUnchangedSinceTheAPITypes(t *testing.T) {
	recorded, err := os.ReadFile("testdata/v1alpha1-wire.json")
	if err != nil {
		t.Fatal(err)
	}
	var built wireRecording
	wiretest.Fill(t, &built.Full, false, gatewayOnly...)
	wiretest.Fill(t, &built.Zero, true, gatewayOnly...)
	if got := indent(t, built); !bytes.Equal(got, recorded) {
		t.Errorf("the protocol's types, filled as the API types were, encode differently:\n%s", lineDiff(recorded, got))
	}

	var read wireRecording
	dec := json.NewDecoder(bytes.NewReader(recorded))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&read); err != nil {
		t.Fatalf("the protocol's types cannot read what an old agent sent: %v", err)
	}
	// Read back, the full bodies encode the same. (The zero ones do not:
	// a null time reads as no time, with the API types as with these.)
	want := indent(t, map[string]any{"full": built.Full})
	if got := indent(t, map[string]any{"full": read.Full}); !bytes.Equal(got, want) {
		t.Errorf("the recorded bodies, read and encoded again, differ:\n%s", lineDiff(want, got))
	}
	r := read.Full.Report
	if r.Facts == nil || r.Facts.System.BootTime == nil || len(r.Scan.Updates.Items) != 2 || len(r.Scan.Docker.Containers) != 2 ||
		len(r.Work.Changes) != 2 || read.Full.WorkDocument.Work.Packages == nil {
		t.Errorf("the recording lacks payloads it should hold: %+v", r)
	}
}

func indent(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// lineDiff shows the first line where two texts differ.
func lineDiff(want, got []byte) string {
	w, g := bytes.Split(want, []byte("\n")), bytes.Split(got, []byte("\n"))
	for i := range max(len(w), len(g)) {
		var wl, gl []byte
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if !bytes.Equal(wl, gl) {
			return "line " + strconv.Itoa(i+1) + ":\n  recorded: " + string(wl) + "\n  now:      " + string(gl)
		}
	}
	return "(no line differs)"
}

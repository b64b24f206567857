package protocol

import (
	"encoding/json"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestTimeEncodesAsMetav1Time: Time replaced metav1.Time on the wire, so it
// must write and read exactly what metav1.Time does (this test links the
// API machinery; the agent does not).
func TestTimeEncodesAsMetav1Time(t *testing.T) {
	for _, at := range []time.Time{
		{},
		time.Date(2026, 12, 7, 1, 2, 3, 999999999, time.FixedZone("X", -7*3600-30*60)),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(1727000000, 5).UTC(),
	} {
		want, err := json.Marshal(metav1.NewTime(at))
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(NewTime(at))
		if err != nil || string(got) != string(want) {
			t.Errorf("%v encodes as %s (%v), metav1.Time as %s", at, got, err, want)
		}
	}
	for _, in := range []string{`null`, `"2026-12-07T01:02:03Z"`, `"2026-12-07T01:02:03.5+02:00"`, `"2026-12-07"`, `"yesterday"`, `17`, `""`} {
		var m metav1.Time
		var p Time
		mErr, pErr := json.Unmarshal([]byte(in), &m), json.Unmarshal([]byte(in), &p)
		if (mErr == nil) != (pErr == nil) || !m.Time.Equal(p.Time) {
			t.Errorf("%s reads as %v (%v), metav1.Time as %v (%v)", in, p.Time, pErr, m.Time, mErr)
		}
	}
}

package conditions

import (
	"strings"
	"testing"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"short", "abc", 5, "abc"},
		{"exact", "abcde", 5, "abcde"},
		{"ascii", "abcdef", 5, "abcde"},
		{"zero", "abc", 0, ""},
		{"negative", "abc", -1, ""},
		// "é" is 2 bytes: cutting at 2 would split it.
		{"two-byte rune", "aé", 2, "a"},
		// "€" is 3 bytes.
		{"three-byte rune kept whole", "a€b", 4, "a€"},
		{"three-byte rune dropped", "a€b", 3, "a"},
		{"three-byte rune dropped mid", "a€b", 2, "a"},
		// "😀" is 4 bytes.
		{"four-byte rune", "😀😀", 7, "😀"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Truncate(tc.in, tc.n)
			if got != tc.want {
				t.Fatalf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Fatalf("Truncate(%q, %d) = %q is not valid UTF-8", tc.in, tc.n, got)
			}
		})
	}
}

func TestSetTruncatesAndStampsGeneration(t *testing.T) {
	var conds []metav1.Condition
	long := strings.Repeat("ü", redflagv1.MaxConditionMessage) // 2 bytes each
	if !Set(&conds, 7, metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "R", Message: long}) {
		t.Fatal("Set reported no change on a new condition")
	}
	c := meta.FindStatusCondition(conds, "Ready")
	if len(c.Message) > redflagv1.MaxConditionMessage || !utf8.ValidString(c.Message) {
		t.Fatalf("message not cut to %d bytes of valid UTF-8: %d bytes", redflagv1.MaxConditionMessage, len(c.Message))
	}
	if c.ObservedGeneration != 7 {
		t.Fatalf("observedGeneration = %d, want 7", c.ObservedGeneration)
	}
	if c.LastTransitionTime.IsZero() {
		t.Fatal("lastTransitionTime not set")
	}
	// The same condition again changes nothing, so an unchanged reconcile
	// writes no status.
	if Set(&conds, 7, metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "R", Message: long}) {
		t.Fatal("Set reported a change for an identical condition")
	}
}

func TestTransitionTimeKeptWhileStatusStays(t *testing.T) {
	var conds []metav1.Condition
	MarkReady(&conds, 1, "Active", "a")
	before := meta.FindStatusCondition(conds, "Ready").LastTransitionTime
	if !MarkReady(&conds, 2, "Active", "b") {
		t.Fatal("new message and generation should count as a change")
	}
	after := meta.FindStatusCondition(conds, "Ready")
	if !after.LastTransitionTime.Equal(&before) {
		t.Fatal("lastTransitionTime moved although status stayed True")
	}
	if after.ObservedGeneration != 2 || after.Message != "b" {
		t.Fatalf("condition not updated: %+v", after)
	}
}

// TestMarkHelpers checks which conditions each helper leaves behind.
func TestMarkHelpers(t *testing.T) {
	all := func() []metav1.Condition {
		var c []metav1.Condition
		Set(&c, 1, metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "Old"})
		Set(&c, 1, metav1.Condition{Type: "Reconciling", Status: metav1.ConditionTrue, Reason: "Old"})
		Set(&c, 1, metav1.Condition{Type: "Stalled", Status: metav1.ConditionTrue, Reason: "Old"})
		Set(&c, 1, metav1.Condition{Type: "UpToDate", Status: metav1.ConditionTrue, Reason: "Old"})
		return c
	}
	type want map[string]metav1.ConditionStatus // "" means absent
	for _, tc := range []struct {
		name string
		mark func(*[]metav1.Condition) bool
		want want
	}{
		{"ready", func(c *[]metav1.Condition) bool { return MarkReady(c, 2, "Ok", "m") },
			want{"Ready": "True", "Reconciling": "", "Stalled": "", "UpToDate": "True"}},
		{"not ready", func(c *[]metav1.Condition) bool { return MarkNotReady(c, 2, "Waiting", "m") },
			want{"Ready": "False", "Reconciling": "True", "Stalled": "", "UpToDate": "True"}},
		{"stalled", func(c *[]metav1.Condition) bool { return MarkStalled(c, 2, "Broken", "m") },
			want{"Ready": "False", "Reconciling": "", "Stalled": "True", "UpToDate": "True"}},
		{"reconciling", func(c *[]metav1.Condition) bool { return MarkReconciling(c, 2, "Working", "m") },
			want{"Ready": "False", "Reconciling": "True", "Stalled": "", "UpToDate": "True"}},
		{"unknown", func(c *[]metav1.Condition) bool { return MarkUnknown(c, 2, "Silent", "m") },
			want{"Ready": "Unknown", "Reconciling": "True", "Stalled": "True", "UpToDate": "True"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := all()
			if !tc.mark(&c) {
				t.Fatal("reported no change")
			}
			for typ, status := range tc.want {
				got := meta.FindStatusCondition(c, typ)
				switch {
				case status == "" && got != nil:
					t.Errorf("%s still present: %+v", typ, got)
				case status != "" && got == nil:
					t.Errorf("%s missing", typ)
				case status != "" && got.Status != status:
					t.Errorf("%s = %s, want %s", typ, got.Status, status)
				}
			}
			// MarkReconciling leaves Ready as it was, generation included.
			if r := meta.FindStatusCondition(c, "Ready"); tc.name != "reconciling" && r.ObservedGeneration != 2 {
				t.Errorf("Ready observedGeneration = %d, want 2", r.ObservedGeneration)
			}
			if tc.mark(&c) {
				t.Error("marking twice reported a change")
			}
		})
	}
}

func TestMarkStalledSetsBothReasons(t *testing.T) {
	var c []metav1.Condition
	MarkStalled(&c, 3, "Expired", "token expired")
	for _, typ := range []string{"Ready", "Stalled"} {
		got := meta.FindStatusCondition(c, typ)
		if got.Reason != "Expired" || got.Message != "token expired" || got.ObservedGeneration != 3 {
			t.Errorf("%s = %+v", typ, got)
		}
	}
}

package history

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// entry is a history entry named by a short code: "N3" is the Normal entry
// with reason R3, "W5" the Warning entry with reason R5.
func entry(code string) redflagv1.HistoryEntry {
	typ := "Normal"
	if code[0] == 'W' {
		typ = "Warning"
	}
	return redflagv1.HistoryEntry{
		Time:   metav1.NewTime(time.Unix(int64(len(code)), 0)),
		Type:   typ,
		Reason: "R" + code[1:],
	}
}

// codes turns entries back into their codes, to compare lists briefly.
func codes(entries []redflagv1.HistoryEntry) string {
	parts := make([]string, len(entries))
	for i, e := range entries {
		parts[i] = e.Type[:1] + e.Reason[1:]
	}
	return strings.Join(parts, " ")
}

// seq builds entries with codes prefix+start .. prefix+(start+n-1).
func seq(prefix string, start, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, start+i)
	}
	return out
}

func build(codes ...[]string) []redflagv1.HistoryEntry {
	var out []redflagv1.HistoryEntry
	for _, cs := range codes {
		for _, c := range cs {
			out = append(out, entry(c))
		}
	}
	return out
}

func TestAppend(t *testing.T) {
	max := redflagv1.MaxHistoryEntries
	for _, tc := range []struct {
		name string
		in   []redflagv1.HistoryEntry
		add  string
		want []redflagv1.HistoryEntry
	}{
		{"empty", nil, "N1", build([]string{"N1"})},
		{"below bound", build([]string{"N1", "W2"}), "W3", build([]string{"N1", "W2", "W3"})},
		{"full, oldest dropped", build(seq("N", 1, max)), "N99",
			build(seq("N", 2, max-1), []string{"N99"})},
		{"full of warnings, oldest dropped", build(seq("W", 1, max)), "W99",
			build(seq("W", 2, max-1), []string{"W99"})},
		{"last success kept while warnings pile up", build([]string{"N0"}, seq("W", 1, max-1)), "W99",
			build([]string{"N0"}, seq("W", 2, max-2), []string{"W99"})},
		{"only the newest success is kept", build([]string{"N0", "N1"}, seq("W", 2, max-2)), "W99",
			build([]string{"N1"}, seq("W", 2, max-2), []string{"W99"})},
		{"a new success frees the old one", build([]string{"N0"}, seq("W", 1, max-1)), "N99",
			build(seq("W", 1, max-1), []string{"N99"})},
		{"over the bound already (old data) is cut", build(seq("N", 1, max+3)), "N99",
			build(seq("N", 5, max-1), []string{"N99"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inCopy := append([]redflagv1.HistoryEntry(nil), tc.in...)
			got := Append(tc.in, entry(tc.add))
			if codes(got) != codes(tc.want) {
				t.Fatalf("got  %s\nwant %s", codes(got), codes(tc.want))
			}
			if len(got) > max {
				t.Fatalf("%d entries, bound is %d", len(got), max)
			}
			if codes(tc.in) != codes(inCopy) {
				t.Fatal("Append modified its input")
			}
		})
	}
}

// TestAppendWarningsForever keeps adding Warnings after one success: the
// success must survive every round.
func TestAppendWarningsForever(t *testing.T) {
	h := Append(nil, entry("N0"))
	for i := 1; i <= 3*redflagv1.MaxHistoryEntries; i++ {
		h = Append(h, entry(fmt.Sprintf("W%d", i)))
		if h[0].Reason != "R0" || h[0].Type != "Normal" {
			t.Fatalf("after %d warnings the success is gone: %s", i, codes(h))
		}
		if got := h[len(h)-1].Reason; got != fmt.Sprintf("R%d", i) {
			t.Fatalf("newest entry is %s, want R%d", got, i)
		}
	}
}

func TestBound(t *testing.T) {
	longKey := strings.Repeat("k", 70)
	for _, tc := range []struct {
		name string
		in   map[string]string
		msg  string
		want map[string]string
	}{
		{"nil stays nil", nil, "m", nil},
		{"empty becomes nil", map[string]string{}, "m", nil},
		{"small kept", map[string]string{"oldVersion": "1.0", "newVersion": "1.1"}, "m",
			map[string]string{"oldVersion": "1.0", "newVersion": "1.1"}},
		{"at most six, first keys in sorted order",
			map[string]string{"g": "7", "a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6"}, "m",
			map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6"}},
		{"long key and value cut",
			map[string]string{longKey: strings.Repeat("v", 200)}, "m",
			map[string]string{longKey[:63]: strings.Repeat("v", 128)}},
		{"keys equal after cutting: first wins",
			map[string]string{longKey + "a": "first", longKey + "b": "second"}, "m",
			map[string]string{longKey[:63]: "first"}},
		{"empty key dropped", map[string]string{"": "x", "a": "1"}, "m", map[string]string{"a": "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Bound(redflagv1.HistoryEntry{Message: tc.msg, Metadata: tc.in})
			if fmt.Sprint(got.Metadata) != fmt.Sprint(tc.want) || (got.Metadata == nil) != (tc.want == nil) {
				t.Fatalf("metadata = %v, want %v", got.Metadata, tc.want)
			}
		})
	}
}

func TestBoundMessageUTF8(t *testing.T) {
	msg := "x" + strings.Repeat("€", 300) // 1 + 900 bytes
	got := Bound(redflagv1.HistoryEntry{Message: msg, Metadata: map[string]string{"v": strings.Repeat("é", 100)}})
	if len(got.Message) > redflagv1.MaxMessageLength || !utf8.ValidString(got.Message) {
		t.Fatalf("message %d bytes, valid=%v", len(got.Message), utf8.ValidString(got.Message))
	}
	if len(got.Message) != 511 { // 1 + 170 whole euro signs
		t.Fatalf("message cut to %d bytes, want 511", len(got.Message))
	}
	if v := got.Metadata["v"]; len(v) != 128 || !utf8.ValidString(v) {
		t.Fatalf("value cut to %d bytes, valid=%v", len(v), utf8.ValidString(v))
	}
}

func TestBoundDoesNotShareMetadata(t *testing.T) {
	in := map[string]string{"a": "1"}
	got := Bound(redflagv1.HistoryEntry{Metadata: in})
	got.Metadata["a"] = "changed"
	if in["a"] != "1" {
		t.Fatal("Bound returned the caller's map")
	}
}

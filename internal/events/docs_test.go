package events

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsListEveryReason keeps docs/events.md and the Go list equal: every
// reason documented with the same type, severity, component, action and
// metadata keys (in order), and no documented reason missing from the code.
func TestDocsListEveryReason(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{} // name -> "type severity component action"
	// The reasons table comes before the audit line's field table.
	reasons, _, _ := strings.Cut(string(raw), "## The audit line")
	for _, line := range strings.Split(reasons, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 8 {
			t.Fatalf("short table row: %q", line)
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		name := strings.Trim(cells[0], "`")
		if _, dup := documented[name]; dup {
			t.Errorf("docs/events.md lists %s twice", name)
		}
		var keys []string
		if cells[6] != "—" {
			for _, k := range strings.Split(cells[6], ",") {
				keys = append(keys, strings.Trim(strings.TrimSpace(k), "`"))
			}
		}
		documented[name] = strings.Join(cells[1:5], " ") + " [" + strings.Join(keys, " ") + "]"
	}
	for _, r := range All() {
		want := strings.Join([]string{r.Type, string(r.Severity), string(r.Component), r.Action}, " ") + " [" + strings.Join(r.Metadata, " ") + "]"
		got, ok := documented[r.Name]
		switch {
		case !ok:
			t.Errorf("docs/events.md does not list %s", r.Name)
		case got != want:
			t.Errorf("docs/events.md says %s is %q, the code says %q", r.Name, got, want)
		}
		delete(documented, r.Name)
	}
	for name := range documented {
		t.Errorf("docs/events.md lists %s, which the code does not define", name)
	}
}

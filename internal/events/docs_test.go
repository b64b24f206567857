package events

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsListEveryReason keeps docs/events.md and the Go list equal: every
// reason documented with the same type, severity, component and action, and
// no documented reason missing from the code.
func TestDocsListEveryReason(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{} // name -> "type severity component action"
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 5 {
			t.Fatalf("short table row: %q", line)
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		name := strings.Trim(cells[0], "`")
		if _, dup := documented[name]; dup {
			t.Errorf("docs/events.md lists %s twice", name)
		}
		documented[name] = strings.Join(cells[1:5], " ")
	}
	for _, r := range All() {
		want := strings.Join([]string{r.Type, string(r.Severity), string(r.Component), r.Action}, " ")
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

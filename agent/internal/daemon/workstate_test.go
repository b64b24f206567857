package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/redflag-io/redflag/internal/protocol"
)

func TestWorkStateSurvivesRestartAndStaysBounded(t *testing.T) {
	dir := t.TempDir()
	ws, err := readWorkState(dir)
	if err != nil || ws.Current != nil || len(ws.Finished) != 0 {
		t.Fatalf("a fresh state dir: %+v %v", ws, err)
	}
	// An install in progress when the agent died is not done: it is redone.
	ws.Current = &protocol.WorkResult{ID: "rollout.abc", Phase: protocol.WorkRunning}
	if err := writeWorkState(dir, ws); err != nil {
		t.Fatal(err)
	}
	back, err := readWorkState(dir)
	if err != nil || back.Current == nil || back.Current.ID != "rollout.abc" || back.done("rollout.abc") {
		t.Fatalf("after restart: %+v %v; the interrupted work must not count as done", back, err)
	}
	for i := range finishedKept + 5 {
		back.finish(fmt.Sprintf("w%d", i))
	}
	back.finish("w40") // again: moves to the end, no duplicate
	if len(back.Finished) != finishedKept || back.Finished[len(back.Finished)-1] != "w40" || back.done("w0") || !back.done("w36") {
		t.Fatalf("finished list %v: want the newest %d, w40 last", back.Finished, finishedKept)
	}
}

func TestDamagedWorkStateStartsAfresh(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, workFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	ws, err := readWorkState(dir)
	if err == nil {
		t.Fatal("a damaged work state must be reported")
	}
	if ws.Current != nil || len(ws.Finished) != 0 {
		t.Fatalf("a damaged state must start afresh, got %+v", ws)
	}
}

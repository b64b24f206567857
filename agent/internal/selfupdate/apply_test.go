package selfupdate

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/release"
)

// TestApplyStagesAndRecords: Apply stages the verified binary at
// NextPath, replacing a stale one, and leaves the executable alone: until
// the supervisor promotes it, the path the service manager starts holds
// the old binary.
func TestApplyStagesAndRecords(t *testing.T) {
	f := newFixture(t)
	newBin := []byte("#!/bin/sh\necho agent v2.0.0\n")
	m := f.publish("v2.0.0", "linux", "amd64", newBin)
	if err := os.WriteFile(NextPath(f.exe), []byte("stale"), 0o755); err != nil {
		t.Fatal(err)
	}

	before := time.Now()
	res, err := Apply(context.Background(), f.options(), work("upd-1", "2.0.0"))
	if !errors.Is(err, ErrRestart) {
		t.Fatalf("Apply = %+v, %v; want ErrRestart", res, err)
	}
	if !res.Staged || res.FromVersion != "v1.0.0" || res.ToVersion != "v2.0.0" {
		t.Errorf("result %+v", res)
	}
	if got, _ := os.ReadFile(f.exe); !bytes.Equal(got, f.oldBin) {
		t.Errorf("the executable holds %q, want the old binary untouched", got)
	}
	if got, _ := os.ReadFile(NextPath(f.exe)); !bytes.Equal(got, newBin) {
		t.Errorf(".next holds %q, want the new release", got)
	}
	if fi, err := os.Stat(NextPath(f.exe)); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm()&0o111 == 0) {
		t.Errorf("the staged binary is not executable: %v %v", fi.Mode(), err)
	}
	rec := f.record()
	if rec.WorkID != "upd-1" || rec.AgentUpdate != "fleet-upgrade" || rec.FromVersion != "v1.0.0" || rec.ToVersion != "v2.0.0" ||
		rec.State != StatePending || rec.SHA256 != m.SHA256 || rec.Executable != f.exe || rec.Promoted {
		t.Errorf("record %+v", rec)
	}
	if rec.ConfirmWithin.Duration != DefaultConfirmWithin || rec.Deadline.Before(before.Add(DefaultConfirmWithin)) {
		t.Errorf("record deadline %s (within %s), want 2 minutes from now", rec.Deadline, rec.ConfirmWithin)
	}
	if fi, err := os.Stat(filepath.Join(f.stateDir, RecordFile)); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Errorf("record file: %v, %v", fi, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(f.exe))
	if len(entries) != 2 {
		t.Errorf("the binary's directory holds %d entries, want the binary and .next (a download or .previous left behind?)", len(entries))
	}
	// While this process lives, the record is an update in flight, not an
	// outcome to report.
	if out, err := Outcome(f.stateDir, "v1.0.0"); out != nil || err != nil {
		t.Errorf("Outcome in the staging process = %+v, %v; want nil", out, err)
	}
}

// TestApplyRemovesStaleStagedBinary: a staged binary no unfinished update
// owns is deleted, also when Apply then refuses.
func TestApplyRemovesStaleStagedBinary(t *testing.T) {
	f := newFixture(t)
	if err := os.WriteFile(NextPath(f.exe), []byte("stale"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(context.Background(), f.options(), work("upd-1", "v2.0.0")); ReasonOf(err) != ReasonReleaseNotFound {
		t.Fatalf("Apply = %v; want ReleaseNotFound", err)
	}
	f.assertUntouched()
}

// TestApplyInPlaceWithoutSupervisor: a daemon with no supervisor swaps the
// new binary in at once (nothing would start a staged one), and its
// Confirm alone makes the update a success.
func TestApplyInPlaceWithoutSupervisor(t *testing.T) {
	f := newFixture(t)
	newBin := []byte("#!/bin/sh\necho agent v2.0.0\n")
	f.publish("v2.0.0", "linux", "amd64", newBin)
	o := f.options()
	o.InPlace = true
	res, err := Apply(context.Background(), o, work("upd-1", "v2.0.0"))
	if !errors.Is(err, ErrRestart) || !res.Staged {
		t.Fatalf("Apply = %+v, %v; want ErrRestart", res, err)
	}
	if !bytes.Equal(mustRead(t, f.exe), newBin) || !bytes.Equal(mustRead(t, PreviousPath(f.exe)), f.oldBin) {
		t.Error("the executable is not the new binary, or .previous is not the old one")
	}
	if _, err := os.Stat(NextPath(f.exe)); err == nil {
		t.Error("an in-place update left a staged binary")
	}
	if rec := f.record(); rec.State != StatePending || !rec.Promoted {
		t.Errorf("record %+v; want Pending and promoted", rec)
	}
	appliedHere.Store(false) // the service manager starts the new binary
	if out, _ := Outcome(f.stateDir, "v2.0.0"); out != nil {
		t.Errorf("Outcome before Confirm = %+v; want nil", out)
	}
	if err := Confirm(f.stateDir, "v2.0.0"); err != nil {
		t.Fatal(err)
	}
	if out, err := Outcome(f.stateDir, "v2.0.0"); err != nil || out == nil || out.Phase != protocol.WorkSucceeded {
		t.Errorf("Outcome after Confirm = %+v, %v; want Succeeded", out, err)
	}
}

func TestApplyAlreadyCurrentDownloadsNothing(t *testing.T) {
	f := newFixture(t)
	f.publish("v1.0.0", "linux", "amd64", f.oldBin)
	res, err := Apply(context.Background(), f.options(), work("upd-1", "v1.0.0"))
	if err != nil || !res.AlreadyCurrent || res.Staged {
		t.Fatalf("Apply = %+v, %v; want AlreadyCurrent", res, err)
	}
	if n := f.requests.Load(); n != 0 {
		t.Errorf("%d requests to the gateway, want none", n)
	}
	f.assertUntouched()
	wr := ToWorkResult(work("upd-1", "v1.0.0"), res, err, time.Now())
	if wr.Phase != protocol.WorkSucceeded || wr.Finished == nil {
		t.Errorf("work result %+v, want Succeeded", wr)
	}
}

// TestApplyRefusals: every refusal leaves the running binary as it was and
// names its reason.
func TestApplyRefusals(t *testing.T) {
	newBin := bytes.Repeat([]byte("new agent "), 1000) // 10,000 bytes
	tests := []struct {
		name   string
		setup  func(f *fixture, o *Options, w *protocol.WorkRequest)
		reason string
	}{
		{"no release key", func(f *fixture, o *Options, w *protocol.WorkRequest) { o.ReleaseKey = nil }, ReasonNoReleaseKey},
		{"not a self-update", func(f *fixture, o *Options, w *protocol.WorkRequest) { w.AgentVersion = nil }, ReasonNotSelfUpdate},
		{"bad version", func(f *fixture, o *Options, w *protocol.WorkRequest) { w.AgentVersion.Version = "latest" }, ReasonInvalidRelease},
		{"absolute URL", func(f *fixture, o *Options, w *protocol.WorkRequest) {
			w.AgentVersion.BinaryPath = "https://elsewhere.example/redflag-agent"
		}, ReasonInvalidRelease},
		{"unsigned manifest", func(f *fixture, o *Options, w *protocol.WorkRequest) {
			m := f.publish("v2.0.0", "linux", "amd64", newBin)
			writeStore(t, f, "v2.0.0", protocol.ReleaseManifestFile, mustJSON(t, m)) // the bare manifest
		}, ReasonSignatureMissing},
		{"signed by another key", func(f *fixture, o *Options, w *protocol.WorkRequest) {
			f.publish("v2.0.0", "linux", "amd64", newBin)
			o.ReleaseKey = otherKey(t)
		}, ReasonSignatureInvalid},
		{"manifest changed after signing", func(f *fixture, o *Options, w *protocol.WorkRequest) {
			f.publish("v2.0.0", "linux", "amd64", newBin)
			path := filepath.Join(f.store, "v2.0.0", "linux-amd64", "manifest.json")
			data, _ := os.ReadFile(path)
			// Re-encode the payload with another checksum, keeping the signature.
			writeStore(t, f, "v2.0.0", protocol.ReleaseManifestFile, tamperPayload(t, data))
		}, ReasonSignatureInvalid},
		{"binary changed after signing", func(f *fixture, o *Options, w *protocol.WorkRequest) {
			f.publish("v2.0.0", "linux", "amd64", newBin)
			evil := bytes.Clone(newBin)
			evil[100] = 'X' // same size, other bytes
			writeStore(t, f, "v2.0.0", "redflag-agent", evil)
		}, ReasonChecksumMismatch},
		{"wrong platform", func(f *fixture, o *Options, w *protocol.WorkRequest) {
			f.publish("v2.0.0", "linux", "arm64", newBin)
			w.AgentVersion.ManifestPath = protocol.ReleasePath("v2.0.0", "linux", "arm64", protocol.ReleaseManifestFile)
			w.AgentVersion.BinaryPath = protocol.ReleasePath("v2.0.0", "linux", "arm64", protocol.ReleaseBinaryFile)
		}, ReasonWrongPlatform},
		{"manifest of another version", func(f *fixture, o *Options, w *protocol.WorkRequest) {
			f.publish("v1.5.0", "linux", "amd64", newBin)
			w.AgentVersion.ManifestPath = protocol.ReleasePath("v1.5.0", "linux", "amd64", protocol.ReleaseManifestFile)
		}, ReasonVersionMismatch},
		{"older version", func(f *fixture, o *Options, w *protocol.WorkRequest) {
			f.publish("v2.0.0", "linux", "amd64", newBin)
			o.RunningVersion = "v3.1.0"
		}, ReasonDowngrade},
		{"no such release", func(f *fixture, o *Options, w *protocol.WorkRequest) {}, ReasonReleaseNotFound},
		{"over the size cap", func(f *fixture, o *Options, w *protocol.WorkRequest) {
			f.publish("v2.0.0", "linux", "amd64", newBin)
			o.MaxSize = 4096
		}, ReasonTooLarge},
		{"server sends more than the manifest says", func(f *fixture, o *Options, w *protocol.WorkRequest) {
			f.publish("v2.0.0", "linux", "amd64", newBin)
			w.AgentVersion.BinaryPath = "/bad/streams-more"
			f.mux.HandleFunc("/bad/streams-more", func(rw http.ResponseWriter, r *http.Request) {
				// No Content-Length: the overflow shows only while reading.
				rw.(http.Flusher).Flush()
				for range 100 {
					if _, err := rw.Write(newBin); err != nil {
						return
					}
				}
			})
		}, ReasonTooLarge},
		{"server announces more than the manifest says", func(f *fixture, o *Options, w *protocol.WorkRequest) {
			f.publish("v2.0.0", "linux", "amd64", newBin)
			w.AgentVersion.BinaryPath = "/bad/announces-more"
			f.mux.HandleFunc("/bad/announces-more", func(rw http.ResponseWriter, r *http.Request) {
				rw.Header().Set("Content-Length", strconv.Itoa(len(newBin)+1))
				_, _ = rw.Write(append(bytes.Clone(newBin), '!'))
			})
		}, ReasonTooLarge},
		{"connection cut mid-download", func(f *fixture, o *Options, w *protocol.WorkRequest) {
			f.publish("v2.0.0", "linux", "amd64", newBin)
			w.AgentVersion.BinaryPath = "/bad/cut"
			f.mux.HandleFunc("/bad/cut", func(rw http.ResponseWriter, r *http.Request) {
				rw.Header().Set("Content-Length", strconv.Itoa(len(newBin)))
				_, _ = rw.Write(newBin[:len(newBin)/2])
				rw.(http.Flusher).Flush()
				conn, _, err := rw.(http.Hijacker).Hijack()
				if err == nil {
					_ = conn.Close()
				}
			})
		}, ReasonTruncated},
		{"server sends less than the manifest says", func(f *fixture, o *Options, w *protocol.WorkRequest) {
			f.publish("v2.0.0", "linux", "amd64", newBin)
			writeStore(t, f, "v2.0.0", "redflag-agent", newBin[:len(newBin)-1])
		}, ReasonTruncated},
		{"another update in progress", func(f *fixture, o *Options, w *protocol.WorkRequest) {
			f.publish("v2.0.0", "linux", "amd64", newBin)
			if err := writeRecord(f.stateDir, &Record{WorkID: "older", ToVersion: "v1.5.0", State: StateTrial}); err != nil {
				t.Fatal(err)
			}
		}, ReasonUpdateInProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			o, w := f.options(), work("upd-1", "v2.0.0")
			tt.setup(f, &o, &w)
			keepRecord := tt.reason == ReasonUpdateInProgress
			_, err := Apply(context.Background(), o, w)
			var r *Refusal
			if !errors.As(err, &r) || r.Reason != tt.reason || ReasonOf(err) != tt.reason {
				t.Fatalf("Apply = %v; want a refusal with reason %s", err, tt.reason)
			}
			wr := ToWorkResult(w, Result{}, err, time.Now())
			if wr.Phase != protocol.WorkFailed || wr.Reason != tt.reason || wr.Message == "" {
				t.Errorf("work result %+v", wr)
			}
			if keepRecord {
				if rec := f.record(); rec.WorkID != "older" {
					t.Errorf("the other update's record was replaced: %+v", rec)
				}
				_ = os.Remove(filepath.Join(f.stateDir, RecordFile))
			}
			f.assertUntouched()
		})
	}
}

// TestApplySlowServer: a gateway that stalls mid-download cannot hold the
// agent past the deadline.
func TestApplySlowServer(t *testing.T) {
	f := newFixture(t)
	newBin := bytes.Repeat([]byte("x"), 10000)
	f.publish("v2.0.0", "linux", "amd64", newBin)
	release := make(chan struct{})
	defer close(release)
	f.mux.HandleFunc("/bad/stalls", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Length", strconv.Itoa(len(newBin)))
		_, _ = rw.Write(newBin[:100])
		rw.(http.Flusher).Flush()
		select { // then nothing, until the test ends
		case <-release:
		case <-r.Context().Done():
		}
	})
	o, w := f.options(), work("upd-1", "v2.0.0")
	o.DownloadTimeout = 300 * time.Millisecond
	w.AgentVersion.BinaryPath = "/bad/stalls"
	start := time.Now()
	_, err := Apply(context.Background(), o, w)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Apply took %s with a 300ms deadline", took)
	}
	if ReasonOf(err) != ReasonDownloadTimeout {
		t.Fatalf("Apply = %v; want reason DownloadTimeout", err)
	}
	f.assertUntouched()
}

// TestApplyStopped: a daemon being stopped mid-download is not a failure
// of the update.
func TestApplyStopped(t *testing.T) {
	f := newFixture(t)
	f.publish("v2.0.0", "linux", "amd64", []byte("new"))
	ctx, cancel := context.WithCancel(context.Background())
	f.mux.HandleFunc("/bad/waits", func(rw http.ResponseWriter, r *http.Request) {
		cancel()
		<-r.Context().Done()
	})
	w := work("upd-1", "v2.0.0")
	w.AgentVersion.BinaryPath = "/bad/waits"
	_, err := Apply(ctx, f.options(), w)
	if !errors.Is(err, context.Canceled) || ReasonOf(err) != ReasonInterrupted {
		t.Fatalf("Apply = %v; want context.Canceled", err)
	}
	f.assertUntouched()
}

// TestUpdateLifecycle follows one update through the processes that see
// it: the staging daemon, the new daemon confirming, the supervisor
// promoting it, the outcome reported once, and the same work offered again.
func TestUpdateLifecycle(t *testing.T) {
	f := newFixture(t)
	f.publish("v2.0.0", "linux", "amd64", []byte("agent v2"))
	w := work("upd-1", "v2.0.0")
	if _, err := Apply(context.Background(), f.options(), w); !errors.Is(err, ErrRestart) {
		t.Fatal(err)
	}
	appliedHere.Store(false) // the daemon exits; the staged one starts

	// The new daemon before its first check-in: nothing to report yet.
	if out, err := Outcome(f.stateDir, "v2.0.0"); out != nil || err != nil {
		t.Fatalf("Outcome before Confirm = %+v, %v", out, err)
	}
	// Confirm from another version does nothing.
	if err := Confirm(f.stateDir, "v1.0.0"); err != nil || f.record().State != StatePending {
		t.Fatalf("Confirm by the old version changed the record: %v %+v", err, f.record())
	}
	if err := Confirm(f.stateDir, "v2.0.0"); err != nil {
		t.Fatal(err)
	}
	if st := f.record().State; st != StateConfirmed {
		t.Fatalf("state %s after Confirm", st)
	}
	// Confirmed but not promoted: <exe> is still the old binary, so there
	// is no success to report yet.
	if out, err := Outcome(f.stateDir, "v2.0.0"); out != nil || err != nil {
		t.Fatalf("Outcome before the promotion = %+v, %v; want nil", out, err)
	}
	if !quietSupervisor(f).promote(f.record()) {
		t.Fatal("promote failed")
	}
	if string(mustRead(t, f.exe)) != "agent v2" || !bytes.Equal(mustRead(t, PreviousPath(f.exe)), f.oldBin) {
		t.Error("after the promotion the executable is not v2, or .previous is not v1")
	}
	if _, err := os.Stat(NextPath(f.exe)); err == nil {
		t.Error("the staged binary is still there after the promotion")
	}
	out, err := Outcome(f.stateDir, "v2.0.0")
	if err != nil || out == nil || out.Phase != protocol.WorkSucceeded || out.ID != "upd-1" || out.AgentUpdate != "fleet-upgrade" ||
		out.FromVersion != "v1.0.0" || out.ToVersion != "v2.0.0" || out.Finished == nil {
		t.Fatalf("Outcome = %+v, %v; want Succeeded v1.0.0 -> v2.0.0", out, err)
	}
	// Until Reported, a restarted daemon gets the same outcome again.
	if again, _ := Outcome(f.stateDir, "v2.0.0"); again == nil || again.Phase != out.Phase {
		t.Fatalf("Outcome before Reported = %+v", again)
	}
	if err := Reported(f.stateDir, "other-work"); err != nil || f.record().Reported {
		t.Fatalf("Reported for other work marked this one: %v", err)
	}
	if err := Reported(f.stateDir, "upd-1"); err != nil {
		t.Fatal(err)
	}
	if again, err := Outcome(f.stateDir, "v2.0.0"); again != nil || err != nil {
		t.Fatalf("Outcome after Reported = %+v, %v; want nil", again, err)
	}
	// The gateway offers the same work again: it is not redone.
	o := f.options()
	o.RunningVersion = "v2.0.0"
	res, err := Apply(context.Background(), o, w)
	if !errors.Is(err, ErrAlreadyHandled) || res.Previous == nil || res.Previous.Phase != protocol.WorkSucceeded {
		t.Fatalf("Apply of the same work = %+v, %v; want ErrAlreadyHandled with the Succeeded outcome", res, err)
	}
	if wr := ToWorkResult(w, res, err, time.Now()); wr.Phase != protocol.WorkSucceeded || wr.ID != "upd-1" {
		t.Errorf("work result %+v", wr)
	}
	// A later update replaces the reported record and stages beside <exe>.
	f.publish("v3.0.0", "linux", "amd64", []byte("agent v3"))
	if _, err := Apply(context.Background(), o, work("upd-2", "v3.0.0")); !errors.Is(err, ErrRestart) {
		t.Fatalf("next update: %v", err)
	}
	if string(mustRead(t, NextPath(f.exe))) != "agent v3" || string(mustRead(t, f.exe)) != "agent v2" {
		t.Error("the second update did not stage v3 beside v2")
	}
}

// TestApplySameWorkWaitsForPromotion: the staged binary on trial, offered
// its own update again, reports nothing until the supervisor has decided:
// never Succeeded while <exe> is still the old binary.
func TestApplySameWorkWaitsForPromotion(t *testing.T) {
	f := newFixture(t)
	f.publish("v2.0.0", "linux", "amd64", []byte("agent v2"))
	w := work("upd-1", "v2.0.0")
	if _, err := Apply(context.Background(), f.options(), w); !errors.Is(err, ErrRestart) {
		t.Fatal(err)
	}
	appliedHere.Store(false)
	if err := Confirm(f.stateDir, "v2.0.0"); err != nil {
		t.Fatal(err)
	}
	o := f.options()
	o.RunningVersion = "v2.0.0"

	// Stopped (rolled back, or the agent stopping) while it waits.
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	_, err := Apply(ctx, o, w)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Apply of the same work before the promotion = %v; want it to wait until ctx ends", err)
	}

	// Promoted while it waits: the recorded success. The delay is the
	// point (the promotion must come after Apply has begun polling, a
	// poll or so later), not a wait for something to be observed.
	go func() {
		time.Sleep(decisionPoll + decisionPoll/5)
		quietSupervisor(f).promote(f.record())
	}()
	res, err := Apply(context.Background(), o, w)
	if !errors.Is(err, ErrAlreadyHandled) || res.Previous == nil || res.Previous.Phase != protocol.WorkSucceeded {
		t.Fatalf("Apply of the same work after the promotion = %+v, %v; want the Succeeded outcome", res, err)
	}
}

// quietSupervisor is a supervisor for f's binary, for calling its steps.
func quietSupervisor(f *fixture) *supervisor {
	return &supervisor{o: SupervisorOptions{Executable: f.exe, StateDir: f.stateDir}, log: slog.New(slog.DiscardHandler)}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestOutcomeWithoutSupervisor: the agent came back as the old version and
// no supervisor settled the update (it ran with --no-supervisor, so the
// staged binary never ran or a confirmed one was never promoted). It is
// Failed, never Succeeded.
func TestOutcomeWithoutSupervisor(t *testing.T) {
	for _, tt := range []struct {
		running string
		state   State
		reason  string
	}{
		{"v1.0.0", StatePending, ReasonNotApplied},
		{"v1.0.0", StateConfirmed, ReasonNotApplied},
		{"v1.7.0", StatePending, ReasonUnexpectedVersion},
	} {
		f := newFixture(t)
		if err := writeRecord(f.stateDir, &Record{WorkID: "upd-1", FromVersion: "v1.0.0", ToVersion: "v2.0.0", State: tt.state}); err != nil {
			t.Fatal(err)
		}
		out, err := Outcome(f.stateDir, tt.running)
		if err != nil || out == nil || out.Phase != protocol.WorkFailed || out.Reason != tt.reason || !strings.Contains(out.Message, tt.running) {
			t.Errorf("running %s: Outcome = %+v, %v; want Failed %s", tt.running, out, err, tt.reason)
		}
		if st := f.record().State; st != StateFailed {
			t.Errorf("record state %s, want Failed", st)
		}
	}
}

func writeStore(t *testing.T, f *fixture, version, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.store, version, "linux-amd64", name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func otherKey(t *testing.T) ed25519.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// tamperPayload changes the signed manifest's checksum but keeps its
// signature, as an attacker who cannot sign would.
func tamperPayload(t *testing.T, envelope []byte) []byte {
	t.Helper()
	var env struct {
		Payload   []byte `json:"payload"`
		Signature []byte `json:"signature"`
	}
	if err := jsonUnmarshal(envelope, &env); err != nil {
		t.Fatal(err)
	}
	var m release.Manifest
	if err := jsonUnmarshal(env.Payload, &m); err != nil {
		t.Fatal(err)
	}
	m.SHA256 = strings.Repeat("0", 64)
	env.Payload = mustJSON(t, m)
	return mustJSON(t, env)
}

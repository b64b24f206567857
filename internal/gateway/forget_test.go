package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/internal/protocol"
)

// handlerTransport serves a host client's requests with the gateway's
// handler in this process: the same code path as over TLS, without the
// connections' buffers in the heap being measured.
type handlerTransport struct {
	h    http.Handler
	addr string // the client address requests come from
}

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r.RemoteAddr = t.addr
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// TestDeletedAgentsLeaveNoMemory enrolls 10,000 hosts through the gateway
// (real Agents in a real API server), has each check in and report its
// facts, so every kind of per-agent state is filled, deletes the Agents
// and waits until the gateway has seen every delete. The gateway must then
// hold nothing of them, and memory must be back where it stood before the
// first enrollment, measured two ways after collecting:
//
//   - what the gateway's own code allocated and still holds (a heap
//     profile sampled every 4 KiB, counting allocations with a frame of
//     this package's non-test code), within gatewayMargin, 128 KiB. One
//     map forgotten on delete holds at least 40 bytes per agent in its
//     slots alone, 400 KiB for this fleet; measured with 2,000 agents,
//     keeping the lastSeen times as the code before the agent table did
//     left +0.23 MiB (120 bytes per agent), while with nothing kept the
//     10,000 leave +0.01 MiB (what stays is per client address or token);
//   - the whole live heap, within heapMargin, 2 MiB: the informer's store
//     keeps its emptied map (Go maps do not shrink), about 80 bytes per
//     Agent ever held, and its queues their high-water marks; that is
//     client-go's, not the gateway's (measured: +0.6 MiB for 10,000).
//
// A warm-up round of a few hosts first fills one-off caches (JSON type
// information, metric series), which would otherwise count as growth.
func TestDeletedAgentsLeaveNoMemory(t *testing.T) {
	agents := 10000
	if v := os.Getenv("REDFLAG_FORGET_AGENTS"); v != "" {
		agents, _ = strconv.Atoi(v)
	}
	const gatewayMargin, heapMargin = 128 << 10, 2 << 20
	defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
	runtime.MemProfileRate = 4096
	g := gw // one gateway (and one informer) in the process: a second would double the noise
	ns := newNamespace(t)
	tokens := make([]string, 8) // seats are taken one at a time per token
	for i := range tokens {
		_, tokens[i] = newToken(t, ns, redflagv1.RegistrationTokenSpec{}, time.Hour)
	}
	tableBefore := g.agents.size()
	fleetLife(t, g, ns, tokens, 0, 16)
	heapBefore, ownBefore := liveHeap()

	enrolled, deleted := fleetLife(t, g, ns, tokens, 16, agents)

	heapAfter, ownAfter := liveHeap()
	if n := g.agents.size(); n != tableBefore {
		t.Errorf("the gateway's table holds %d agents, %d before the fleet enrolled", n, tableBefore)
	}
	t.Logf("%d agents: enrolled, checked in and reported in %s, deleted in %s; held by the gateway's code %.2f MiB before, %.2f MiB after; live heap %.1f MiB before, %.1f MiB after",
		agents, enrolled.Round(time.Second), deleted.Round(time.Second), mb(ownBefore), mb(ownAfter), mb(heapBefore), mb(heapAfter))
	if ownAfter > ownBefore+gatewayMargin {
		t.Errorf("after deleting %d agents the gateway's code holds %.2f MiB more than before (margin %.2f MiB): it keeps something of deleted agents",
			agents, mb(ownAfter)-mb(ownBefore), mb(gatewayMargin))
	}
	if heapAfter > heapBefore+heapMargin {
		t.Errorf("after deleting %d agents the live heap is %.2f MiB above where it stood before (margin %.1f MiB)",
			agents, mb(heapAfter)-mb(heapBefore), mb(heapMargin))
	}
}

// fleetLife enrolls hosts from..to-1 (each checks in and reports), deletes
// them all and waits until the gateway holds nothing of them.
func fleetLife(t *testing.T, g *Gateway, ns string, tokens []string, from, to int) (enrolled, deleted time.Duration) {
	t.Helper()
	ctx := context.Background()
	tableBefore := g.agents.size()
	start := time.Now()
	var wg sync.WaitGroup
	const workers = 16
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		// Each worker its own client address, within the per-address limit.
		c := &hostclient.Client{BaseURL: "http://gateway", HTTP: &http.Client{Transport: handlerTransport{g.Handler(), fmt.Sprintf("192.0.2.%d:40000", w+1)}}}
		go func() {
			defer wg.Done()
			for i := from + w; i < to; i += workers {
				if err := enrollCheckInReport(ctx, g, c, tokens[i%len(tokens)], i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	enrolled = time.Since(start)
	waitFor(t, time.Minute, "the gateway's background writes finish", g.backgroundIdle)
	if n := g.agents.size() - tableBefore; n != to-from {
		t.Fatalf("the gateway holds %d new agents, want %d", n, to-from)
	}

	start = time.Now()
	if err := env.Client.DeleteAllOf(ctx, &redflagv1.Agent{}, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "the gateway sees every delete", func() bool { return g.agents.size() == tableBefore })
	deleted = time.Since(start)
	waitFor(t, time.Minute, "the gateway's background writes finish", g.backgroundIdle)
	g.agents.mu.RLock()
	for key := range g.agents.states {
		if strings.HasPrefix(key, ns+"/") {
			t.Errorf("the gateway still holds deleted agent %s", key)
		}
	}
	g.agents.mu.RUnlock()
	// Nonces are kept for twice the skew whatever happens to the Agent
	// (agenttable.go says why); sweep as of when the last has expired.
	if n := g.nonces.expire(time.Now().Add(2*g.opts.ClockSkew + time.Second)); n != 0 {
		t.Errorf("%d nonces remembered after they all expired", n)
	}
	return enrolled, deleted
}

// enrollCheckInReport is one host's life: enroll, check in, report facts.
func enrollCheckInReport(ctx context.Context, g *Gateway, c *hostclient.Client, token string, i int) error {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	h := &fakeHost{
		machineID: fmt.Sprintf("machine-%05d-%s", i, strings.Repeat("m", 16)), hostname: fmt.Sprintf("mem-%05d", i),
		key: key, pub: base64.StdEncoding.EncodeToString(pub),
	}
	resp, err := c.Register(ctx, h.registerRequest(token))
	if err != nil {
		return fmt.Errorf("enrolling host %d: %w", i, err)
	}
	id := hostclient.Identity{Agent: resp.Namespace + "/" + resp.AgentName, MachineID: h.machineID, Key: h.key}
	for deadline := time.Now().Add(time.Minute); g.agents.get(id.Agent) == nil; {
		if time.Now().After(deadline) {
			return fmt.Errorf("the gateway never learnt of enrolled host %d", i)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := c.CheckIn(ctx, id, protocol.CheckInRequest{AgentVersion: "v0.1.0"}); err != nil {
		return fmt.Errorf("checking in host %d: %w", i, err)
	}
	rep := protocol.Report{
		IdempotencyKey: fmt.Sprintf("facts-%05d-%s", i, strings.Repeat("k", 24)), Kind: protocol.ReportFacts, Time: time.Now(),
		Facts: &protocol.Facts{AgentVersion: "v0.1.0", Hostname: h.hostname, Hash: "facts-1", OS: protocol.OSInfo{Family: "linux", Arch: "amd64"}},
	}
	if _, err := c.Report(ctx, id, rep); err != nil {
		return fmt.Errorf("reporting facts of host %d: %w", i, err)
	}
	return nil
}

// liveHeap is the live heap after two collections (the second frees what
// finalizers released in the first), and the part of it the gateway's own
// code allocated, from the heap profile.
func liveHeap() (all, own uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	var records []runtime.MemProfileRecord
	for {
		n, _ := runtime.MemProfile(nil, true)
		records = make([]runtime.MemProfileRecord, n+64)
		if n, ok := runtime.MemProfile(records, true); ok {
			records = records[:n]
			break
		}
	}
	var ownBytes float64
	for _, r := range records {
		if r.InUseBytes() > 0 && byGateway(r.Stack()) {
			ownBytes += unsampled(r.InUseBytes(), r.InUseObjects(), runtime.MemProfileRate)
		}
	}
	return m.HeapAlloc, uint64(ownBytes)
}

// byGateway reports whether a stack passes through this package's
// non-test code.
func byGateway(stack []uintptr) bool {
	frames := runtime.CallersFrames(stack)
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, "github.com/redflag-io/redflag/internal/gateway.") && !strings.HasSuffix(f.File, "_test.go") {
			return true
		}
		if !more {
			return false
		}
	}
}

// unsampled estimates the bytes a sampled profile record stands for, as
// pprof does: an object of size s is sampled with probability
// 1-exp(-s/rate).
func unsampled(bytes, objects int64, rate int) float64 {
	if objects == 0 || rate <= 1 {
		return float64(bytes)
	}
	avg := float64(bytes) / float64(objects)
	return float64(bytes) / (1 - math.Exp(-avg/float64(rate)))
}

func mb(n uint64) float64 { return float64(n) / (1 << 20) }

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

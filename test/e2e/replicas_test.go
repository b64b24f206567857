package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/gateway"
	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/internal/protocol"
)

const replicaTokenManifest = `
apiVersion: redflag.io/v1alpha1
kind: RegistrationToken
metadata:
  name: replicas
spec:
  ttl: 1h
  maxUses: 20
`

// TestGatewayReplicasShareTheFleet runs two gateway processes (active-active,
// as the chart's gateway.separate runs them) beside a controller process,
// and sends an agent's requests to both: replay protection, the per-agent
// rate limit and liveness hold as with one replica, and killing a replica
// behind a round-robin balancer loses no acknowledged report.
func TestGatewayReplicasShareTheFleet(t *testing.T) {
	c := startControlPlane(t)
	mgrBin, _ := buildBinaries(t)
	ctx := context.Background()
	portA, portB := freePort(t), freePort(t)
	replica := func(name string, port int) *process {
		addr := "127.0.0.1:" + strconv.Itoa(port)
		return startProcess(t, name, mgrBin, nil, c.managerArgs("--controllers=false",
			"--gateway-bind-address", addr, "--gateway-peer-address", "https://"+addr, "--gateway-peer-name", name)...)
	}
	gwA, gwB := replica("gw-a", portA), replica("gw-b", portB)
	startProcess(t, "controllers", mgrBin, nil, c.managerArgs("--gateway=false")...)
	c.port, c.gatewayURL = portA, "https://127.0.0.1:"+strconv.Itoa(portA)
	c.waitForGateway(t, gwA.exited, gwA.out.String)
	// Each replica must know the other before the test means anything.
	for _, p := range []*process{gwA, gwB} {
		eventually(t, 60*time.Second, p.name+" to see both replicas", func() bool {
			if p.exited() {
				t.Fatalf("%s exited:\n%s", p.name, tail(p.out.String(), 4000))
			}
			return strings.Contains(p.out.String(), `"live":["gw-a","gw-b"]`)
		})
	}
	var leases coordinationv1.LeaseList
	if err := c.env.Client.List(ctx, &leases, client.InNamespace("redflag-system"), client.MatchingLabels{gateway.PeerLabel: "true"}); err != nil || len(leases.Items) != 2 {
		t.Fatalf("want one peer Lease per replica, got %d (%v)", len(leases.Items), err)
	}

	token := applyToken(t, c, "replicas", replicaTokenManifest)
	ca := mustRead(t, c.caFile)
	direct := func(port int) *hostclient.Client {
		hc, err := hostclient.New("https://127.0.0.1:"+strconv.Itoa(port), ca)
		if err != nil {
			t.Fatal(err)
		}
		return hc
	}
	toA, toB := direct(portA), direct(portB)
	sims := make([]*simHost, 6)
	for i := range sims {
		sims[i] = enrollSim(t, c, token)
	}

	t.Run("a request accepted by one replica is a replay at the other", func(t *testing.T) {
		for i, s := range sims {
			first, second := toA, toB
			if i%2 == 1 {
				first, second = toB, toA
			}
			checkIn := []byte(`{"agentVersion":"v0.0.0-probe","factsHash":"probe"}`)
			if code, replay := sendThenReplay(t, first, second, s.id, protocol.PathCheckIn, checkIn); code != http.StatusOK || !strings.Contains(replay, protocol.CodeReplay) {
				t.Errorf("%s: check-in answered %d, its replay at the other replica %q; want 200 then %s", s.id.Agent, code, replay, protocol.CodeReplay)
			}
			report := fmt.Appendf(nil, `{"idempotencyKey":"replay-%d","kind":"event","time":%q,"event":{"reason":"AgentStarted","message":"replay probe %d"}}`,
				i, time.Now().UTC().Format(time.RFC3339), i)
			if code, replay := sendThenReplay(t, first, second, s.id, protocol.PathReport, report); code != http.StatusOK || !strings.Contains(replay, protocol.CodeReplay) {
				t.Errorf("%s: report answered %d, its replay at the other replica %q; want 200 then %s", s.id.Agent, code, replay, protocol.CodeReplay)
			}
			a := agentNamed(t, c, s.id.Agent)
			if n := historyMessages(a, fmt.Sprintf("replay probe %d", i)); n != 1 {
				t.Errorf("%s: the replayed report shows %d times in the history, want once", s.id.Agent, n)
			}
		}
	})

	t.Run("the per-agent limit holds across replicas", func(t *testing.T) {
		s := sims[0]
		start := time.Now()
		var ok, limited int
		for i := range 60 {
			hc := toA
			if i%2 == 1 {
				hc = toB
			}
			_, err := hc.CheckIn(ctx, s.id, protocol.CheckInRequest{AgentVersion: "v0.0.0-probe", FactsHash: "probe"})
			var herr *hostclient.Error
			switch {
			case err == nil:
				ok++
			case errors.As(err, &herr) && herr.Code == protocol.CodeRateLimited:
				limited++
			default:
				t.Fatalf("check-in %d: %v", i, err)
			}
		}
		// One replica allows a burst of 20 and 2/s after it; two replicas
		// keeping their own counts would allow about twice that.
		most := 20 + int(2*time.Since(start).Seconds()) + 1
		t.Logf("60 check-ins alternating between replicas in %s: %d accepted, %d refused with %s", time.Since(start).Round(time.Millisecond), ok, limited, protocol.CodeRateLimited)
		if ok > most || limited == 0 {
			t.Errorf("%d of 60 check-ins accepted, want at most %d (the per-agent limit of one replica)", ok, most)
		}
	})

	t.Run("liveness is recorded whichever replica hears the host", func(t *testing.T) {
		for _, s := range sims[1:] {
			eventually(t, 30*time.Second, s.id.Agent+" to be Ready with lastSeen", func() bool {
				a := agentNamed(t, c, s.id.Agent)
				st, _ := agentReady(a)
				return a.Status.LastSeen != nil && st == "True"
			})
		}
		// The first status (written as the controller adds its finalizer)
		// is never lost to that race, and the enrollment names the host.
		for _, s := range sims {
			a := agentNamed(t, c, s.id.Agent)
			if a.Status.Hostname != "probe" {
				t.Errorf("%s: status.hostname %q, want the host's own", s.id.Agent, a.Status.Hostname)
			}
			for _, e := range a.Status.History {
				if e.Reason == "AgentRegistered" && strings.Contains(e.Message, "host  ") {
					t.Errorf("%s: %q names no host", s.id.Agent, e.Message)
				}
			}
		}
	})

	t.Run("killing a replica loses no acknowledged report", func(t *testing.T) {
		// Captured before the hand-over: one report per host, applied by
		// whichever replica owned the host then (gw-a's own nonce cache
		// dies with it).
		type captured struct {
			id     hostclient.Identity
			body   []byte
			header http.Header
			msg    string
		}
		var before []captured
		for i, s := range sims[1:] { // sims[0] spent its rate limit above
			msg := fmt.Sprintf("captured before the hand-over %d", i)
			body := fmt.Appendf(nil, `{"idempotencyKey":"handover-%d","kind":"event","time":%q,"event":{"reason":"AgentStarted","message":%q}}`,
				i, time.Now().UTC().Format(time.RFC3339), msg)
			var signed http.Header
			code, answer, err := toA.Post(ctx, protocol.PathReport, body, &s.id, func(r *http.Request) { signed = r.Header.Clone() })
			if err != nil || code != http.StatusOK {
				t.Fatalf("%s: a report before the hand-over: %d %s %v", s.id.Agent, code, answer, err)
			}
			before = append(before, captured{id: s.id, body: body, header: signed, msg: msg})
		}
		// Timestamps are whole seconds: the hand-over must come in a later
		// second than the captures for the rule to tell them apart.
		capturedIn := time.Now().Unix()
		eventually(t, 2*time.Second, "the second after the captures", func() bool { return time.Now().Unix() > capturedIn })
		lb := startRoundRobin(t, "127.0.0.1:"+strconv.Itoa(portA), "127.0.0.1:"+strconv.Itoa(portB))
		var acked sync.Map // message → true
		var sent atomic.Int64
		var wg sync.WaitGroup
		const perHost = 12
		for h, s := range sims[1:] {
			hc, err := hostclient.New("https://"+lb, ca)
			if err != nil {
				t.Fatal(err)
			}
			// A new connection per request, so the balancer alternates.
			hc.HTTP.Transport.(*http.Transport).DisableKeepAlives = true
			wg.Go(func() {
				for i := range perHost {
					msg := fmt.Sprintf("host %d report %d", h, i)
					rep := protocol.Report{
						IdempotencyKey: fmt.Sprintf("kill-%d-%d", h, i), Kind: protocol.ReportEvent, Time: time.Now().UTC(),
						Event: &protocol.AgentEvent{Reason: "AgentStarted", Message: msg},
					}
					deadline := time.Now().Add(60 * time.Second)
					for {
						sent.Add(1)
						_, err := hc.Report(ctx, s.id, rep)
						if err == nil {
							acked.Store(s.id.Agent+"|"+msg, true)
							break
						}
						if time.Now().After(deadline) {
							t.Errorf("%s: report %q never acknowledged: %v", s.id.Agent, msg, err)
							return
						}
						time.Sleep(200 * time.Millisecond)
					}
					time.Sleep(100 * time.Millisecond) // pacing: a steady stream through the kill
				}
			})
		}
		// Kill gw-a in the middle of the traffic: once every host has sent
		// a few of its reports.
		eventually(t, 30*time.Second, "reports under way", func() bool { return sent.Load() >= int64(3*len(sims[1:])) })
		gwA.kill()
		t.Logf("killed gw-a after %d report attempts", sent.Load())
		wg.Wait()
		n := 0
		acked.Range(func(k, _ any) bool {
			agent, msg, _ := strings.Cut(k.(string), "|")
			if historyMessages(agentNamed(t, c, agent), msg) == 0 {
				t.Errorf("%s: acknowledged report %q is not in the Agent's history", agent, msg)
			}
			n++
			return true
		})
		if n != perHost*len(sims[1:]) {
			t.Errorf("%d reports acknowledged, want %d", n, perHost*len(sims[1:]))
		}
		t.Logf("%d reports acknowledged in %d attempts, all recorded", n, sent.Load())
		// The captured reports replayed to the survivor, which now owns
		// gw-a's hosts too: refused (503 for a host it took over, 401
		// ReplayRejected for one it owned all along), never applied twice.
		for _, capt := range before {
			code, answer, err := toB.Post(ctx, protocol.PathReport, capt.body, nil, func(r *http.Request) {
				for k, v := range capt.header {
					r.Header[k] = v
				}
			})
			if err != nil {
				t.Fatalf("replaying to gw-b: %v", err)
			}
			if code == http.StatusOK {
				t.Errorf("%s: a report captured before the hand-over was accepted again: %s", capt.id.Agent, answer)
			}
			if n := historyMessages(agentNamed(t, c, capt.id.Agent), capt.msg); n != 1 {
				t.Errorf("%s: the captured report shows %d times in the history, want once", capt.id.Agent, n)
			}
		}
		// The survivor serves every agent now, gw-a's share included.
		for _, s := range sims {
			if _, err := toB.CheckIn(ctx, s.id, protocol.CheckInRequest{AgentVersion: "v0.0.0-probe", FactsHash: "probe"}); err != nil {
				var herr *hostclient.Error
				if !errors.As(err, &herr) || herr.Code != protocol.CodeRateLimited {
					t.Errorf("%s: check-in at the surviving replica: %v", s.id.Agent, err)
				}
			}
		}
	})
}

// sendThenReplay sends a signed request to first, then the same bytes and
// headers to second. It returns first's status and second's answer.
func sendThenReplay(t *testing.T, first, second *hostclient.Client, id hostclient.Identity, path string, body []byte) (int, string) {
	t.Helper()
	ctx := context.Background()
	var signed http.Header
	code, _, err := first.Post(ctx, path, body, &id, func(r *http.Request) { signed = r.Header.Clone() })
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	code2, answer, err := second.Post(ctx, path, body, nil, func(r *http.Request) {
		for k, v := range signed {
			r.Header[k] = v
		}
	})
	if err != nil {
		t.Fatalf("replaying POST %s: %v", path, err)
	}
	return code, strconv.Itoa(code2) + " " + tail(string(answer), 200)
}

func agentNamed(t *testing.T, c *cluster, nsName string) *redflagv1.Agent {
	t.Helper()
	ns, name, _ := strings.Cut(nsName, "/")
	var a redflagv1.Agent
	if err := c.env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &a); err != nil {
		t.Fatal(err)
	}
	return &a
}

func historyMessages(a *redflagv1.Agent, msg string) int {
	n := 0
	for _, e := range a.Status.History {
		if e.Message == msg {
			n++
		}
	}
	return n
}

// startRoundRobin is a TCP balancer in front of the replicas, as a
// Kubernetes Service is: each new connection goes to the next backend, and
// past one that refuses.
func startRoundRobin(t *testing.T, backends ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var next atomic.Uint64
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				var out net.Conn
				for range backends {
					b := backends[next.Add(1)%uint64(len(backends))]
					if out, err = net.DialTimeout("tcp", b, time.Second); err == nil {
						break
					}
				}
				if out == nil {
					return
				}
				defer out.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(out, in); done <- struct{}{} }()
				go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return ln.Addr().String()
}

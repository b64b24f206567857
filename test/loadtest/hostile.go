package loadtest

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
)

// HostileOptions say how many hostile connections Hostile holds against
// the gateway, and how many legitimate agents keep checking in meanwhile.
type HostileOptions struct {
	// ManagerBin is the manager Hostile starts, with a control plane,
	// unless Target is set.
	ManagerBin string
	// Target is a gateway already running (in a cluster) to hold the
	// attack against instead.
	Target *Target
	// Agents check in throughout, each about once a second.
	Agents int
	// Attackers is the number of hostile connections, spread over
	// AttackSources client addresses (apart from the agents' addresses;
	// with a Target, its AttackSources).
	Attackers, AttackSources int
	// Hold is how long the attack is held.
	Hold time.Duration
}

// Target is a gateway this package did not start, such as the chart's
// pod on a node, reached from addresses of this machine.
type Target struct {
	GatewayURL string
	CAPEM      []byte
	// ServerName is the name to check the certificate for when the URL's
	// host is an address it does not carry (a pod's IP).
	ServerName string
	// Token enrolls the agents.
	Token string
	// AgentSources and AttackSources are the client addresses the agents
	// and the attackers connect from.
	AgentSources, AttackSources []net.IP
	// MemoryMiB reads the gateway's memory now, HighWaterMiB its peak.
	MemoryMiB, HighWaterMiB func() float64
}

// HostileReport is what Hostile measured.
type HostileReport struct {
	Attackers int
	// Outcomes counts the hostile requests by what they got: an HTTP
	// status, "held" (no answer before the hold ended) or "closed" (the
	// gateway closed the connection without an answer).
	Outcomes map[string]int
	// Kinds counts outcomes per kind of attack.
	Kinds map[string]map[string]int
	// CheckIns and CheckInErrors are the legitimate agents' check-ins.
	CheckIns, CheckInErrors int64
	FirstError              string
	// Manager memory: before the attack, the most seen during it, and the
	// kernel's high-water mark (VmHWM) at the end.
	BaselineRSSMiB, PeakRSSMiB, HighWaterMiB float64
}

// Print writes the report for a person.
func (r *HostileReport) Print(w io.Writer) {
	fmt.Fprintf(w, "hostile connections: %d; outcomes %v\n", r.Attackers, r.Outcomes)
	kinds := make([]string, 0, len(r.Kinds))
	for k := range r.Kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "  %-28s %v\n", k, r.Kinds[k])
	}
	fmt.Fprintf(w, "legitimate check-ins: %d, failed %d %s\n", r.CheckIns, r.CheckInErrors, r.FirstError)
	fmt.Fprintf(w, "manager memory: %.0f MiB before, %.0f MiB peak during, high-water mark %.0f MiB\n", r.BaselineRSSMiB, r.PeakRSSMiB, r.HighWaterMiB)
}

// The hostile requests, each on its own connection:
//   - unsigned: a 1 MiB report with no signature headers, sent but for its
//     last byte (the attack that once took the manager past 2 GiB);
//   - forged: the same, naming an enrolled agent, with a signature over a
//     declared body hash that does not verify;
//   - forged-no-hash: as forged, without the hash header (as an older
//     agent sends), so the gateway must read it to judge it;
//   - register: a 16 KiB registration, all but its last byte;
//   - slow-headers: a request line and one header, then nothing.
var attackKinds = []string{"unsigned", "forged", "forged-no-hash", "register", "slow-headers"}

// Hostile enrolls o.Agents agents, then holds o.Attackers hostile
// connections against the gateway for o.Hold while the agents check in,
// sampling the manager's memory.
func Hostile(ctx context.Context, o HostileOptions) (*HostileReport, error) {
	var (
		fleet         []*simAgent
		fn            fleetNet
		attackSources []net.IP
		memory, peak  func() float64
	)
	if t := o.Target; t != nil {
		if len(t.AgentSources) == 0 || len(t.AttackSources) == 0 || t.MemoryMiB == nil || t.HighWaterMiB == nil {
			return nil, errors.New("hostile: a target needs agent and attack sources and its memory readers")
		}
		fn = fleetNet{gatewayURL: t.GatewayURL, caPEM: t.CAPEM, serverName: t.ServerName, sources: t.AgentSources}
		var err error
		if fleet, err = newFleet(o.Agents, fn); err != nil {
			return nil, err
		}
		if err := register(ctx, fleet, t.Token, 16, &Report{}); err != nil {
			return nil, err
		}
		attackSources, memory, peak = t.AttackSources, t.MemoryMiB, t.HighWaterMiB
	} else {
		tb, err := startTestbed(ctx, Options{Agents: o.Agents, ManagerBin: o.ManagerBin, Sources: 8, RegisterConcurrency: 16}, &Report{})
		if err != nil {
			return nil, err
		}
		defer tb.close()
		fleet, fn = tb.fleet, loopbackNet(tb.gatewayURL, tb.caPEM, 1)
		attackSources = loopbackSources(100, max(o.AttackSources, 1))
		pid := tb.mgr.pid()
		memory = func() float64 { return rssMiB(pid) }
		peak = func() float64 { return highWaterMiB(pid) }
	}
	rep := &HostileReport{Attackers: o.Attackers, Outcomes: map[string]int{}, Kinds: map[string]map[string]int{}}
	rep.BaselineRSSMiB = memory()

	ctx, cancel := context.WithTimeout(ctx, o.Hold)
	defer cancel()
	var wg sync.WaitGroup
	var highest atomic.Int64
	wg.Go(func() { // memory, five times a second
		for {
			if kb := int64(memory() * 1024); kb > highest.Load() {
				highest.Store(kb)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	})
	var firstErr sync.Once
	for i, a := range fleet { // each agent checks in about once a second
		wg.Go(func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			select { // spread the agents over the second
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(i) * time.Second / time.Duration(len(fleet))):
			}
			for {
				cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := a.checkIn(cctx)
				ccancel()
				atomic.AddInt64(&rep.CheckIns, 1)
				if err != nil {
					atomic.AddInt64(&rep.CheckInErrors, 1)
					firstErr.Do(func() { rep.FirstError = err.Error() })
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}

	d, err := newWireDialer(fn)
	if err != nil {
		return nil, err
	}
	tlsConf, addr := d.tls, d.addr
	var mu sync.Mutex
	victim := fleet[0].id
	for i := range o.Attackers {
		kind := attackKinds[i%len(attackKinds)]
		src := attackSources[i%len(attackSources)]
		wg.Go(func() {
			outcome := attack(ctx, kind, src, addr, tlsConf, victim.Agent, victim.MachineID)
			mu.Lock()
			defer mu.Unlock()
			rep.Outcomes[outcome]++
			if rep.Kinds[kind] == nil {
				rep.Kinds[kind] = map[string]int{}
			}
			rep.Kinds[kind][outcome]++
		})
		if i%100 == 99 { // a ramp, as a real flood builds up
			time.Sleep(50 * time.Millisecond)
		}
	}
	wg.Wait()
	rep.PeakRSSMiB = float64(highest.Load()) / 1024
	rep.HighWaterMiB = peak()
	return rep, nil
}

// attack opens one connection from src, sends one hostile request of kind
// and waits, until ctx ends, for an answer.
func attack(ctx context.Context, kind string, src net.IP, addr string, conf *tls.Config, agent, machineID string) string {
	dialer := &tls.Dialer{NetDialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 10 * time.Second}, Config: conf}
	c, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "dial failed"
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	go func() { <-ctx.Done(); _ = c.SetDeadline(time.Now()) }()

	var head strings.Builder
	size := protocol.MaxReportBody
	path := protocol.PathReport
	switch kind {
	case "register":
		size, path = protocol.MaxRegisterBody, protocol.PathRegister
	case "slow-headers":
		_, _ = io.WriteString(c, "POST "+protocol.PathReport+" HTTP/1.1\r\nHost: gateway\r\n")
		return awaitAnswer(c)
	}
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, size)
	if strings.HasPrefix(kind, "forged") {
		sig := base64.StdEncoding.EncodeToString(make([]byte, ed25519.SignatureSize))
		fmt.Fprintf(&head, "%s: %s\r\n%s: %s\r\n%s: %d\r\n%s: forged-%s\r\n%s: %s\r\n",
			protocol.HeaderAgent, agent, protocol.HeaderMachineID, machineID,
			protocol.HeaderTimestamp, time.Now().Unix(), protocol.HeaderNonce, strconv.FormatInt(time.Now().UnixNano(), 36),
			protocol.HeaderSignature, sig)
		if kind == "forged" {
			fmt.Fprintf(&head, "%s: %s\r\n", protocol.HeaderContentSHA256, strings.Repeat("ab", 32))
		}
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(c, head.String()); err != nil {
		return "closed"
	}
	// All of the body but its last byte, so a gateway that reads first
	// holds it all while it waits.
	answered := make(chan string, 1)
	go func() { answered <- awaitAnswer(c) }()
	chunk := make([]byte, 32<<10)
	for left := size - 1; left > 0; left -= len(chunk) {
		n := min(left, len(chunk))
		if _, err := c.Write(chunk[:n]); err != nil {
			break // refused: the gateway stopped reading
		}
	}
	return <-answered
}

// awaitAnswer reads the status of the answer, if one comes.
func awaitAnswer(c net.Conn) string {
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return "held"
		}
		return "closed"
	}
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}

// highWaterMiB is a process's peak resident memory (VmHWM).
func highWaterMiB(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

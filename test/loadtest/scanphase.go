package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/test/testenv"
)

// ScanReports is what the scan-report phase measured. Every agent sends
// the updates-scan result of a Debian 12 host a few weeks behind
// (scanPackages: 36 pending updates, 11 of them security, security first
// as the agent lists them), then the same result again, as its next
// scheduled scan finding nothing new would.
type ScanReports struct {
	// Reports counts the accepted first reports; Errors the refused or
	// failed ones (first and repeat).
	Reports    int64
	Errors     int64
	FirstError string
	// PerS is first reports accepted per second; P50 and P99 their latency.
	PerS     float64
	P50, P99 time.Duration
	// WritesPerReport and WritesPerRepeat are API-server writes per first
	// report and per unchanged repeat (the design: none for the repeat),
	// Lease renewals aside: they come with time, not with reports.
	WritesPerReport, WritesPerRepeat float64
	// RepeatWrites are the writes during the repeat pass by "VERB
	// resource", so a non-zero WritesPerRepeat says what it was.
	RepeatWrites requestCounts
	// AgentBytes is one Agent's JSON size with its inventory stored.
	AgentBytes int
}

func (s *ScanReports) String() string {
	repeat := ""
	if len(s.RepeatWrites) > 0 {
		repeat = fmt.Sprintf(" %v", map[string]float64(s.RepeatWrites))
	}
	return fmt.Sprintf("%d first reports at %.0f/s (p50 %s, p99 %s), %d errors; API writes per report %.2f, per unchanged repeat %.4f%s; an Agent with its inventory is %d bytes",
		s.Reports, s.PerS, ms(s.P50), ms(s.P99), s.Errors, s.WritesPerReport, s.WritesPerRepeat, repeat, s.AgentBytes)
}

// scanReports runs the phase over the whole fleet, Concurrency at a time.
func scanReports(ctx context.Context, env *testenv.Env, fleet []*simAgent, o Options) (*ScanReports, error) {
	out := &ScanReports{}
	inventory := scanInventory()
	hash := fmt.Sprintf("load-%d", len(inventory.Items))
	send := func(pass string) ([]time.Duration, requestCounts, error) {
		before, err := scrapeRequests(ctx, env.Config)
		if err != nil {
			return nil, nil, err
		}
		var next atomic.Int64
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		finished := time.Now().UTC().Add(-time.Second)
		for range max(o.Concurrency, 1) {
			wg.Go(func() {
				for ctx.Err() == nil {
					i := int(next.Add(1)) - 1
					if i >= len(fleet) {
						return
					}
					a := fleet[i]
					rep := protocol.Report{
						IdempotencyKey: pass + "-" + a.hostname, Kind: protocol.ReportScan, Time: finished,
						Scan: &protocol.ScanResult{
							Subsystem: "updates", ID: "updates-" + pass, Result: protocol.RunSucceeded, Finished: finished,
							Updates: &inventory, UpdatesHash: hash,
						},
					}
					t0 := time.Now()
					_, err := a.client.Report(ctx, a.id, rep)
					d := time.Since(t0)
					mu.Lock()
					if err != nil {
						out.Errors++
						if out.FirstError == "" {
							out.FirstError = err.Error()
						}
					} else {
						lat = append(lat, d)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		after, err := scrapeRequests(ctx, env.Config)
		if err != nil {
			return nil, nil, err
		}
		return lat, after.minus(before).onlyWrites(), nil
	}

	start := time.Now()
	lat, writes, err := send("first")
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	out.Reports = int64(len(lat))
	out.PerS = float64(len(lat)) / elapsed.Seconds()
	slices.Sort(lat)
	if len(lat) > 0 {
		out.P50, out.P99 = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
		out.WritesPerReport = writes.withoutLeases().writes() / float64(len(lat))
	}
	// A later scan finding the same updates: a new scan ID, the same
	// inventory hash. It comes after the first pass's consequences (Events,
	// the Agent controller's reaction) have been written, as a real next
	// scan hours later would, so the count is the repeat's own.
	if err := awaitQuietWrites(ctx, env, time.Second, 15*time.Second); err != nil {
		return nil, err
	}
	again, writes, err := send("repeat")
	if err != nil {
		return nil, err
	}
	out.RepeatWrites = writes
	if len(again) > 0 {
		out.WritesPerRepeat = writes.withoutLeases().writes() / float64(len(again))
	}
	if len(fleet) > 0 {
		ns, name, _ := strings.Cut(fleet[0].id.Agent, "/")
		var a redflagv1.Agent
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &a); err != nil {
			return nil, fmt.Errorf("reading an Agent after its scan report: %w", err)
		}
		b, err := json.Marshal(&a)
		if err != nil {
			return nil, fmt.Errorf("encoding an Agent: %w", err)
		}
		out.AgentBytes = len(b)
	}
	return out, nil
}

// scanPackages are a plausible set of pending updates for a Debian 12 host
// a few weeks behind: real package names, versions in Debian's style, the
// security pocket's marked (the agent's apt testdata has real `apt list
// --upgradable` output; it cannot be imported from here). What matters for
// the load is the size and shape of the report and of the Agent status.
var scanPackages = []struct {
	name, from, to string
	security       bool
}{
	{"base-files", "12.4+deb12u7", "12.4+deb12u8", false},
	{"bash", "5.2.15-2+b2", "5.2.15-2+b7", false},
	{"bind9-dnsutils", "1:9.18.28-1~deb12u2", "1:9.18.33-1~deb12u2", true},
	{"bind9-host", "1:9.18.28-1~deb12u2", "1:9.18.33-1~deb12u2", true},
	{"bind9-libs", "1:9.18.28-1~deb12u2", "1:9.18.33-1~deb12u2", true},
	{"curl", "7.88.1-10+deb12u7", "7.88.1-10+deb12u8", true},
	{"distro-info-data", "0.58+deb12u2", "0.58+deb12u3", false},
	{"dpkg", "1.21.22", "1.21.23", false},
	{"gnupg", "2.2.40-1.1", "2.2.40-1.1+deb12u1", false},
	{"gpgv", "2.2.40-1.1", "2.2.40-1.1+deb12u1", false},
	{"krb5-locales", "1.20.1-2+deb12u1", "1.20.1-2+deb12u2", true},
	{"libc-bin", "2.36-9+deb12u7", "2.36-9+deb12u9", false},
	{"libc6", "2.36-9+deb12u7", "2.36-9+deb12u9", false},
	{"libcurl4", "7.88.1-10+deb12u7", "7.88.1-10+deb12u8", true},
	{"libgnutls30", "3.7.9-2+deb12u3", "3.7.9-2+deb12u4", true},
	{"libgssapi-krb5-2", "1.20.1-2+deb12u1", "1.20.1-2+deb12u2", true},
	{"libk5crypto3", "1.20.1-2+deb12u1", "1.20.1-2+deb12u2", true},
	{"libkrb5-3", "1.20.1-2+deb12u1", "1.20.1-2+deb12u2", true},
	{"libkrb5support0", "1.20.1-2+deb12u1", "1.20.1-2+deb12u2", true},
	{"libsqlite3-0", "3.40.1-2", "3.40.1-2+deb12u1", false},
	{"libssl3", "3.0.14-1~deb12u2", "3.0.15-1~deb12u1", false},
	{"libsystemd0", "252.30-1~deb12u2", "252.33-1~deb12u1", false},
	{"libudev1", "252.30-1~deb12u2", "252.33-1~deb12u1", false},
	{"linux-image-amd64", "6.1.112-1", "6.1.119-1", false},
	{"openssh-client", "1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u4", false},
	{"openssh-server", "1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u4", false},
	{"openssh-sftp-server", "1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u4", false},
	{"openssl", "3.0.14-1~deb12u2", "3.0.15-1~deb12u1", false},
	{"python3.11", "3.11.2-6+deb12u3", "3.11.2-6+deb12u4", false},
	{"python3.11-minimal", "3.11.2-6+deb12u3", "3.11.2-6+deb12u4", false},
	{"systemd", "252.30-1~deb12u2", "252.33-1~deb12u1", false},
	{"systemd-sysv", "252.30-1~deb12u2", "252.33-1~deb12u1", false},
	{"tzdata", "2024a-0+deb12u1", "2024b-0+deb12u1", false},
	{"udev", "252.30-1~deb12u2", "252.33-1~deb12u1", false},
	{"vim-common", "2:9.0.1378-2", "2:9.0.1378-2+deb12u1", false},
	{"vim-tiny", "2:9.0.1378-2", "2:9.0.1378-2+deb12u1", false},
}

// scanInventory is scanPackages as the agent reports them: security first.
func scanInventory() protocol.UpdateInventory {
	inv := protocol.UpdateInventory{ByManager: map[string]int32{string(protocol.ManagerApt): int32(len(scanPackages))}}
	for _, sec := range []bool{true, false} {
		for _, p := range scanPackages {
			if p.security != sec {
				continue
			}
			source := "bookworm-updates"
			if sec {
				source = "bookworm-security"
				inv.Security++
			}
			inv.Items = append(inv.Items, protocol.PendingUpdate{
				Manager: protocol.ManagerApt, Name: p.name, CurrentVersion: p.from, AvailableVersion: p.to,
				Security: sec, Source: source,
			})
		}
	}
	inv.Total = int32(len(inv.Items))
	return inv
}

// awaitQuietWrites waits until the API server has taken no write but Lease
// renewals for quiet, or gives up after limit (a busy machine is no error:
// the repeat's count then shows what was still going on).
func awaitQuietWrites(ctx context.Context, env *testenv.Env, quiet, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	last, err := scrapeRequests(ctx, env.Config)
	if err != nil {
		return err
	}
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(quiet):
		}
		now, err := scrapeRequests(ctx, env.Config)
		if err != nil {
			return err
		}
		if now.minus(last).withoutLeases().writes() == 0 {
			return nil
		}
		last = now
	}
	return nil
}

package daemon

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/redflag-io/redflag/agent/internal/config"
	"github.com/redflag-io/redflag/agent/internal/facts"
	"github.com/redflag-io/redflag/agent/internal/lock"
	"github.com/redflag-io/redflag/agent/internal/outbox"
	"github.com/redflag-io/redflag/agent/internal/scanrun"
	"github.com/redflag-io/redflag/internal/backoff"
	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/internal/protocol"
	"github.com/redflag-io/redflag/internal/version"
)

// ErrRestart is returned by Run when a self-update replaced the binary: the
// process must exit so the new binary starts (the supervisor does that).
var ErrRestart = errors.New("restarting into the updated agent binary")

// stopGrace is how long a stopping daemon waits for an install to finish
// (systemd's TimeoutStopSec for the unit is 90 s).
const stopGrace = 60 * time.Second

// factsEvery is how often the daemon looks at its facts between the
// gateway's requests for them; only a change is reported.
const factsEvery = 5 * time.Minute

// daemon is one running agent.
type daemon struct {
	paths   config.Paths
	cfg     *config.Config
	client  *hostclient.Client
	id      hostclient.Identity
	workKey ed25519.PublicKey
	outbox  *outbox.Outbox
	log     *slog.Logger
	backoff *backoff.Backoff
	scans   *scans
	works   *works

	// unstored are reports the outbox could not store (a full disk),
	// kept in memory until they are stored or delivered: they survive
	// anything but a restart. Scans and work queue from their own
	// goroutines, hence the lock.
	memMu        sync.Mutex
	unstored     []protocol.Report
	memDropped   uint64
	state        State
	factsHash    string
	factsCheckAt time.Time
}

// Run checks in and delivers reports until ctx ends. It refuses to start
// when another agent holds the state directory, or the config is not an
// enrolled one.
func Run(ctx context.Context, paths config.Paths, log *slog.Logger) error {
	held, err := lock.Acquire(paths.StateDir)
	if err != nil {
		return err
	}
	defer func() { _ = held.Release() }()
	if w := held.PIDWarning(); w != nil {
		// The lock is held, which is what matters; a full disk only costs
		// a second agent the holder's pid in its refusal.
		log.Warn("running without a pid in the lock file", "err", w)
	}

	d, migration, err := newDaemon(paths, log)
	if err != nil {
		return err
	}
	if migration != nil {
		log.Info("migrated config file", "migration", migration.String())
		d.queueEvent("ConfigMigrated", migration.String(), map[string]string{
			"fromVersion": fmt.Sprint(migration.FromVersion), "toVersion": fmt.Sprint(config.CurrentSchemaVersion),
		})
	}
	d.queueEvent("AgentStarted", "redflag-agent "+version.Version+" started", map[string]string{"version": version.Version})
	d.refreshFacts(ctx, true)
	d.settleSelfUpdate(false)

	// A deterministic per-agent offset spreads a fleet that starts at once
	// (a datacenter power-on) over the first seconds.
	wait := d.startOffset()
	log.Info("agent running", "agent", d.id.Agent, "server", d.cfg.ServerURL, "firstCheckInIn", wait)
	for {
		select {
		case <-ctx.Done():
			d.scans.wait()
			d.works.waitFor(stopGrace)
			d.saveState()
			return nil
		case <-time.After(wait):
		case <-d.scans.finished:
			// A scan finished: check in now, delivering its result.
		case <-d.works.finished:
		case <-d.works.restart:
			d.scans.wait()
			d.saveState()
			return ErrRestart
		}
		wait = d.cycle(ctx)
	}
}

func newDaemon(paths config.Paths, log *slog.Logger) (*daemon, *config.Migration, error) {
	cfg, mig, err := config.Load(paths.ConfigFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: enroll this host first with `redflag-agent register --server URL --token TOKEN`", err)
		}
		return nil, nil, err
	}
	if err := cfg.Registered(); err != nil {
		return nil, nil, fmt.Errorf("config %s is not enrolled (%w): run `redflag-agent register` first", paths.ConfigFile, err)
	}
	key, err := cfg.Ed25519PrivateKey()
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", paths.ConfigFile, err)
	}
	workKey, err := cfg.WorkKey()
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", paths.ConfigFile, err)
	}
	if workKey == nil {
		// Without the manager's key no work document can be trusted.
		return nil, nil, fmt.Errorf("config %s has no workPublicKey: run `redflag-agent register` again", paths.ConfigFile)
	}
	caPEM, err := readCA(cfg.CAFile)
	if err != nil {
		return nil, nil, err
	}
	client, err := hostclient.New(cfg.ServerURL, caPEM)
	if err != nil {
		return nil, nil, err
	}
	if proxy, err := cfg.ProxyURL(); err != nil {
		return nil, nil, err
	} else if proxy != nil {
		client.HTTP.Transport.(*http.Transport).Proxy = http.ProxyURL(proxy)
	}
	ob, err := outbox.Open(filepath.Join(paths.StateDir, "outbox"), 0, 0)
	if err != nil {
		return nil, nil, err
	}
	sc, err := newScans(log)
	if err != nil {
		return nil, nil, err
	}
	d := &daemon{
		works: newWorks(paths.StateDir, log),
		scans: sc, paths: paths, cfg: cfg, client: client, workKey: workKey, outbox: ob, log: log,
		id:      hostclient.Identity{Agent: cfg.Namespace + "/" + cfg.AgentName, MachineID: cfg.MachineID, Key: key},
		backoff: backoff.New(),
	}
	d.works.selfUpdate = d.applySelfUpdate
	d.works.rescan = func(ctx context.Context, workID string) <-chan struct{} {
		return d.scans.rescan(ctx, string(scanrun.Updates), "updates-after-"+workID, d.queue)
	}
	d.state = State{Agent: d.id.Agent, Server: cfg.ServerURL, Version: version.Version, PID: os.Getpid(), StartedAt: time.Now().UTC()}
	return d, mig, nil
}

// cycle delivers pending reports, checks in and returns how long to wait.
func (d *daemon) cycle(ctx context.Context) time.Duration {
	defer d.saveState()
	if err := d.flush(ctx); err != nil {
		return d.failed(err)
	}
	sd, err := d.client.CheckIn(ctx, d.id, protocol.CheckInRequest{AgentVersion: version.Version, FactsHash: d.factsHash})
	if err != nil {
		return d.failed(err)
	}
	now := time.Now()
	doc, err := protocol.OpenDocument(sd, d.workKey, d.id.Agent, d.id.MachineID, now)
	if err != nil {
		// A document that does not verify is never acted on.
		return d.failed(fmt.Errorf("refusing the gateway's work document: %w", err))
	}
	d.backoff.Reset()
	d.state.LastCheckIn, d.state.LastError, d.state.LastErrorAt = &now, "", nil
	d.state.HeartbeatUntil = doc.HeartbeatUntil
	// Before any new work: a verified answer proves a self-updated binary
	// works, and settles the outcome of the update that brought it.
	d.settleSelfUpdate(true)
	// Abandoned work first, so nothing the rollout gave up on is resumed;
	// a paused host drops it too (dropping is not doing work).
	for _, id := range d.works.abandon(doc.Abandoned) {
		d.queueEvent("WorkAbandoned", "dropped work "+id+" without resuming it: the rollout gave up on this host while it was silent", map[string]string{"workID": id})
	}
	if !doc.Paused {
		d.scans.start(ctx, doc.Scans, d.queue)
		d.works.start(ctx, doc.Work, d.queue)
	}
	d.refreshFacts(ctx, doc.SendFacts || d.scans.takeFactsDue())
	if err := d.flush(ctx); err != nil {
		d.log.Warn("delivering reports", "err", err)
	}
	next := backoff.Jitter(doc.NextCheckIn.Duration)
	at := now.Add(next)
	d.state.NextCheckIn = &at
	return next
}

// failed records an error and returns the backoff, honouring Retry-After.
func (d *daemon) failed(err error) time.Duration {
	now := time.Now()
	d.state.LastError, d.state.LastErrorAt = err.Error(), &now
	var refusal *hostclient.Error
	var retryAfter time.Duration
	if errors.As(err, &refusal) {
		retryAfter = refusal.RetryAfter
	}
	wait := d.backoff.Next(retryAfter)
	at := now.Add(wait)
	d.state.NextCheckIn = &at
	d.log.Warn("check-in failed; backing off", "err", err, "retryIn", wait.Round(time.Millisecond))
	return wait
}

// flush delivers stored reports oldest first. A report the gateway refuses
// as such (rejectsReport) is dropped with a log line: it would never be
// accepted. Any other failure stops the flush, keeps the report and is
// returned, so the caller backs off.
//
// Reports kept in memory (see unstored) are stored first where there is room
// again; those that still do not fit are delivered from memory after the
// stored ones, which are older.
func (d *daemon) flush(ctx context.Context) error {
	d.storeUnstored()
	items, err := d.outbox.Pending()
	if err != nil {
		return err
	}
	for _, it := range items {
		if err := d.deliver(ctx, it.Report); err != nil {
			return err
		}
		if err := d.outbox.Ack(it); err != nil {
			return err
		}
	}
	for {
		d.memMu.Lock()
		if len(d.unstored) == 0 {
			d.memMu.Unlock()
			return nil
		}
		r := d.unstored[0]
		d.memMu.Unlock()
		if err := d.deliver(ctx, r); err != nil {
			return err
		}
		d.memMu.Lock()
		d.unstored = slices.DeleteFunc(d.unstored, func(u protocol.Report) bool { return u.IdempotencyKey == r.IdempotencyKey })
		d.memMu.Unlock()
	}
}

// deliver sends one report. A report the gateway refuses as such is
// logged and counts as delivered (it is dropped); any other failure is
// returned.
func (d *daemon) deliver(ctx context.Context, r protocol.Report) error {
	_, err := d.client.Report(ctx, d.id, r)
	if err != nil && !rejectsReport(err) {
		return fmt.Errorf("delivering report %s: %w", r.IdempotencyKey, err)
	}
	if err != nil {
		d.log.Error("gateway refused a report; dropping it", "kind", r.Kind, "err", err)
	}
	return nil
}

// storeUnstored moves reports kept in memory to the outbox, oldest first,
// while there is room.
func (d *daemon) storeUnstored() {
	d.memMu.Lock()
	defer d.memMu.Unlock()
	for len(d.unstored) > 0 {
		if err := d.outbox.Put(d.unstored[0]); err != nil {
			return
		}
		d.unstored = d.unstored[1:]
	}
}

// rejectsReport tells a refusal of the report itself (400: not a report
// the gateway accepts; 413: too large), which retrying cannot change, from
// a refusal of the request: a host clock out of the skew window
// (StaleTimestamp), an agent the gateway does not know yet or no longer
// trusts, a rate limit, an unreachable cluster, or a proxy's own answer.
// Those say nothing about the report, so it is kept for a later attempt:
// dropping it would lose a work or scan result to a clock that jumped.
func rejectsReport(err error) bool {
	var refusal *hostclient.Error
	return errors.As(err, &refusal) &&
		(refusal.Status == http.StatusBadRequest || refusal.Status == http.StatusRequestEntityTooLarge)
}

// refreshFacts collects facts when asked or when due, and queues a report
// when they changed (or the gateway asked).
func (d *daemon) refreshFacts(ctx context.Context, asked bool) {
	if !asked && time.Now().Before(d.factsCheckAt) {
		return
	}
	d.factsCheckAt = time.Now().Add(factsEvery)
	f, err := facts.Collect(ctx)
	if err != nil {
		d.log.Warn("collecting facts", "err", err)
		return
	}
	coarse := f.Coarse()
	hash := coarse.Hash()
	if hash == d.factsHash && !asked {
		return
	}
	d.factsHash = hash
	d.state.FactsHash = hash
	d.queue(protocol.Report{Kind: protocol.ReportFacts, Facts: &protocol.Facts{
		AgentVersion: version.Version, Hostname: f.Hostname, OS: f.OS, System: f.System, Storage: f.Storage, Hash: hash,
	}})
}

func (d *daemon) queueEvent(reason, message string, meta map[string]string) {
	d.queue(protocol.Report{Kind: protocol.ReportEvent, Event: &protocol.AgentEvent{Reason: reason, Message: message, Metadata: meta}})
}

// queue stores a report with a fresh idempotency key (unless it brings its
// own); the key is stored with it, so every retry carries the same one.
func (d *daemon) queue(r protocol.Report) {
	if r.IdempotencyKey == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		r.IdempotencyKey = hex.EncodeToString(b)
	}
	r.Time = time.Now().UTC()
	if err := d.outbox.Put(r); err != nil {
		// A full or failing disk must not lose a result that exists only
		// here (a scan, or an install that will not be redone): keep it in
		// memory, bounded, until it can be stored or is delivered.
		d.memMu.Lock()
		defer d.memMu.Unlock()
		d.unstored = append(d.unstored, r)
		if len(d.unstored) > maxUnstored {
			d.unstored = d.unstored[1:]
			d.memDropped++
		}
		d.log.Error("storing a report in the outbox failed; keeping it in memory until it is delivered", "kind", r.Kind, "err", err)
	}
}

// maxUnstored bounds the reports kept in memory when the outbox cannot
// store them; past it the oldest is dropped and counted.
const maxUnstored = 100

func (d *daemon) saveState() {
	d.memMu.Lock()
	inMemory, memDropped := len(d.unstored), d.memDropped
	d.memMu.Unlock()
	if items, err := d.outbox.Pending(); err == nil {
		d.state.PendingReports = len(items) + inMemory
	}
	d.state.DroppedReports = d.outbox.Dropped() + memDropped
	if err := writeState(d.paths.StateDir, d.state); err != nil {
		d.log.Warn("writing state file", "err", err)
	}
}

// startOffset is a per-agent offset in [0, min(interval, 10s)): the same
// for one agent every time, different across agents.
func (d *daemon) startOffset() time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(d.id.Agent))
	span := min(d.cfg.CheckInDuration(), 10*time.Second)
	return time.Duration(h.Sum64() % uint64(span))
}

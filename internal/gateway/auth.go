package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/events"
	"github.com/redflag-io/redflag/internal/protocol"
)

// authenticate checks a signed request in the order that costs least first
// and leaks least: headers, known agent, revocation, timestamp, signature,
// machine ID, then the nonce (recorded only for a request that verified, so
// garbage cannot fill the cache). It answers the refusal itself and returns
// nil then.
func (g *Gateway) authenticate(w http.ResponseWriter, r *http.Request, body []byte, now time.Time) *agentRecord {
	screened, ok := r.Context().Value(admitted{}).(admission)
	if !ok {
		// Not through admit (a request a peer replica passed on): screen
		// it here.
		if screened.rec, screened.auth, ok = g.screen(w, r, now); !ok {
			return nil
		}
	}
	rec, a := screened.rec, screened.auth
	if fresh := g.agents.get(a.Agent); fresh != rec {
		// The Agent changed while the body was read (revoked, deleted,
		// rebound): judge the request against what it is now.
		if !enrolled(w, fresh, a.Agent) {
			return nil
		}
		rec = fresh
	}
	if screened.hash != "" {
		// admit verified the signature over this hash before the body was
		// read; the body must be the one signed.
		if protocol.BodyHash(body) != screened.hash {
			g.refuseSignature(w, rec, a) // the signature does not cover this body
			return nil
		}
	} else if !protocol.VerifyRequest(rec.publicKey, r.Method, r.URL.RequestURI(), a, body) {
		g.refuseSignature(w, rec, a)
		return nil
	}
	if a.MachineID != rec.machineID {
		g.warn(rec, events.MachineIDMismatch, mismatchMessage(rec, a.MachineID))
		fail(w, http.StatusForbidden, protocol.CodeMachineIDMismatch,
			"agent %s is bound to another machine ID: a cloned host must enroll as a new agent with its own key; "+
				"a host whose machine ID changed is accepted once a cluster user rebinds the Agent (annotation %s, see the Agent's Events)",
			a.Agent, redflagv1.RebindMachineIDAnnotation)
		return nil
	}
	if !g.nonces.firstUse(a.Agent, a.Nonce, now) {
		g.warn(rec, events.ReplayRejected, "a replayed request (nonce seen before) was refused")
		fail(w, http.StatusUnauthorized, protocol.CodeReplay, "nonce was used before; requests cannot be replayed")
		return nil
	}
	if ok, wait := rec.st.allow(g.opts.PerAgentRate, g.opts.PerAgentBurst, now); !ok {
		failRetry(w, http.StatusTooManyRequests, protocol.CodeRateLimited, retryAfterSeconds(wait), "agent %s is sending too many requests", a.Agent)
		return nil
	}
	if rec.rebindPending {
		// The first request from the machine ID a user rebound the Agent
		// to: record that it happened (status and Event), once.
		g.recordRebind(rec)
	}
	return rec
}

// mismatchMessage is the MachineIDMismatch Warning: which machine ID was
// refused and, when it could be bound to, the command that does it.
func mismatchMessage(rec *agentRecord, presented string) string {
	msg := "a request from machine ID " + truncate(presented, 128) + " was refused: this Agent is bound to another machine ID."
	if !machineIDPattern.MatchString(presented) {
		return msg
	}
	return msg + " If the host's machine ID changed legitimately, rebind it: kubectl annotate agent -n " + rec.namespace + " " + rec.name +
		" " + redflagv1.RebindMachineIDAnnotation + "=" + presented + " (a cloned host must enroll anew instead)"
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// skewText says how far a refused timestamp is from the gateway's clock.
// Each side subtracts the earlier time from the later one, so the duration
// is positive and at worst saturates at its maximum (Round keeps that);
// nothing is negated.
func skewText(ts, now time.Time, allowed time.Duration) string {
	if ts.After(now) {
		return fmt.Sprintf("%s ahead of the gateway's clock (allowed: %s)", ts.Sub(now).Round(time.Second), allowed)
	}
	return fmt.Sprintf("%s behind the gateway's clock (allowed: %s)", now.Sub(ts).Round(time.Second), allowed)
}

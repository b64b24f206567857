package protocol

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestWorkDocumentRoundTrip(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	now := time.Unix(1_800_000_000, 0).UTC()
	doc := WorkDocument{Agent: "fleet/web-01", MachineID: "m1", IssuedAt: now, ExpiresAt: now.Add(10 * time.Minute),
		CheckInInterval: Duration{time.Minute}, NextCheckIn: Duration{time.Minute}}
	sd, err := SignDocument(doc, priv)
	if err != nil {
		t.Fatal(err)
	}
	// Through JSON, as on the wire.
	wire, _ := json.Marshal(CheckInResponse{Work: sd})
	var resp CheckInResponse
	if err := json.Unmarshal(wire, &resp); err != nil {
		t.Fatal(err)
	}
	got, err := OpenDocument(resp.Work, pub, "fleet/web-01", "m1", now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got.CheckInInterval.Duration != time.Minute || got.Agent != doc.Agent {
		t.Fatalf("document changed in transit: %+v", got)
	}

	otherPub, _, _ := ed25519.GenerateKey(nil)
	for name, tc := range map[string]struct {
		sd             SignedDocument
		key            ed25519.PublicKey
		agent, machine string
		at             time.Time
		want           error
	}{
		"another agent":   {sd, pub, "fleet/web-02", "m1", now, ErrDocumentForOther},
		"another machine": {sd, pub, "fleet/web-01", "m2", now, ErrDocumentForOther},
		"expired":         {sd, pub, "fleet/web-01", "m1", now.Add(10 * time.Minute), ErrDocumentExpired},
		"wrong key":       {sd, otherPub, "fleet/web-01", "m1", now, ErrDocumentSignature},
		"tampered":        {SignedDocument{Payload: append([]byte(nil), sd.Payload[:len(sd.Payload)-1]...), Signature: sd.Signature}, pub, "fleet/web-01", "m1", now, ErrDocumentSignature},
	} {
		if _, err := OpenDocument(tc.sd, tc.key, tc.agent, tc.machine, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
}

// FuzzOpenDocument opens arbitrary documents, and arbitrary payloads signed
// with the right key (resign), so the fuzzer reaches the decoding and the
// agent, machine and expiry checks behind the signature: a document is
// accepted only when it is signed, names this agent and machine, and has
// not expired.
func FuzzOpenDocument(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	now := time.Unix(1e9, 0)
	sd, _ := SignDocument(WorkDocument{Agent: "a/b", MachineID: "m", ExpiresAt: time.Unix(2e9, 0)}, priv)
	f.Add(sd.Payload, sd.Signature, false)
	f.Add(sd.Payload, []byte(nil), true)
	f.Add([]byte(`{"agent":"a/b","machineID":"m","expiresAt":"2001-09-09T01:46:40Z"}`), []byte(nil), true)
	f.Add([]byte(`{"agent":"a/b","machineID":"m","expiresAt":"2030-01-01T00:00:00Z","nextCheckIn":"-1s"}`), []byte(nil), true)
	f.Add([]byte(`{"agent":"a/b","machineID":"m","expiresAt":"2030-01-01T00:00:00Z","work":{"id":"w","agentVersion":{"version":"v1.0.0"}}}`), []byte(nil), true)
	f.Fuzz(func(t *testing.T, payload, sig []byte, resign bool) {
		if resign {
			sig = ed25519.Sign(priv, append([]byte(documentDomain), payload...))
		}
		doc, err := OpenDocument(SignedDocument{Payload: payload, Signature: sig}, pub, "a/b", "m", now)
		if resign && errors.Is(err, ErrDocumentSignature) {
			t.Fatal("a correctly signed document failed its signature check")
		}
		if err != nil {
			return
		}
		if doc.Agent != "a/b" || doc.MachineID != "m" {
			t.Fatalf("opened a document for %s/%s", doc.Agent, doc.MachineID)
		}
		if !now.Before(doc.ExpiresAt) {
			t.Fatalf("opened a document that expired at %s", doc.ExpiresAt)
		}
		if doc.NextCheckIn.Duration < 0 || doc.CheckInInterval.Duration < 0 || doc.HeartbeatInterval.Duration < 0 {
			t.Fatalf("opened a document with a negative interval: %+v", doc)
		}
	})
}

package protocol

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func signed(t *testing.T, key ed25519.PrivateKey, body []byte, now time.Time) (*http.Request, RequestAuth) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "https://gw.example/api/v1/checkin?x=1", bytes.NewReader(body))
	if err := SignRequest(req, body, key, "fleet/web-01", "machine-1", now); err != nil {
		t.Fatal(err)
	}
	a, err := ParseRequestAuth(req.Header)
	if err != nil {
		t.Fatal(err)
	}
	return req, a
}

func TestSignedRequestVerifies(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	body := []byte(`{"agentVersion":"v1.0.0"}`)
	now := time.Unix(1_800_000_000, 0)
	req, a := signed(t, priv, body, now)
	if !VerifyRequest(pub, req.Method, req.URL.RequestURI(), a, body) {
		t.Fatal("a correctly signed request does not verify")
	}
	if !a.Timestamp.Equal(now) || a.Agent != "fleet/web-01" || a.MachineID != "machine-1" {
		t.Fatalf("parsed auth %+v", a)
	}
}

// TestTamperingBreaksTheSignature changes each signed part in turn.
func TestTamperingBreaksTheSignature(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	body := []byte(`{"agentVersion":"v1.0.0"}`)
	req, a := signed(t, priv, body, time.Unix(1_800_000_000, 0))
	uri := req.URL.RequestURI()
	cases := map[string]func() bool{
		"body":       func() bool { return VerifyRequest(pub, "POST", uri, a, []byte(`{"agentVersion":"v9.9.9"}`)) },
		"method":     func() bool { return VerifyRequest(pub, "PUT", uri, a, body) },
		"path":       func() bool { return VerifyRequest(pub, "POST", "/api/v1/report?x=1", a, body) },
		"query":      func() bool { return VerifyRequest(pub, "POST", "/api/v1/checkin?x=2", a, body) },
		"agent":      func() bool { b := a; b.Agent = "fleet/web-02"; return VerifyRequest(pub, "POST", uri, b, body) },
		"machine id": func() bool { b := a; b.MachineID = "machine-2"; return VerifyRequest(pub, "POST", uri, b, body) },
		"timestamp": func() bool {
			b := a
			b.Timestamp = b.Timestamp.Add(time.Second)
			return VerifyRequest(pub, "POST", uri, b, body)
		},
		"nonce": func() bool {
			b := a
			b.Nonce = "AAAAAAAAAAAAAAAAAAAAAA"
			return VerifyRequest(pub, "POST", uri, b, body)
		},
		"key":       func() bool { return VerifyRequest(otherPub, "POST", uri, a, body) },
		"short key": func() bool { return VerifyRequest(pub[:10], "POST", uri, a, body) },
	}
	for name, verify := range cases {
		if verify() {
			t.Errorf("changing the %s still verifies", name)
		}
	}
}

func TestParseRequestAuthRefusesGarbage(t *testing.T) {
	base := http.Header{}
	base.Set(HeaderAgent, "ns/a")
	base.Set(HeaderMachineID, "m")
	base.Set(HeaderTimestamp, "1800000000")
	base.Set(HeaderNonce, "abc")
	base.Set(HeaderSignature, "AAAA")
	for name, h := range map[string]http.Header{
		"no headers":      {},
		"short signature": base,
		"bad timestamp":   with(base, HeaderTimestamp, "yesterday"),
		"long nonce":      with(base, HeaderNonce, string(bytes.Repeat([]byte("n"), 65))),
	} {
		if _, err := ParseRequestAuth(h); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

func with(h http.Header, k, v string) http.Header {
	c := h.Clone()
	c.Set(k, v)
	return c
}

// FuzzParseRequestAuth parses arbitrary signature headers: what parses is
// bounded, and a signature the fuzzer made up never verifies.
func FuzzParseRequestAuth(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	req, _ := http.NewRequest(http.MethodPost, "https://gw.example/api/v1/checkin", nil)
	_ = SignRequest(req, nil, priv, "ns/a", "m", time.Unix(1_800_000_000, 0))
	real, err := ParseRequestAuth(req.Header)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("ns/a", "m", "1800000000", "nonce", "AAAA")
	f.Add(req.Header.Get(HeaderAgent), req.Header.Get(HeaderMachineID), req.Header.Get(HeaderTimestamp), req.Header.Get(HeaderNonce), req.Header.Get(HeaderSignature))
	f.Fuzz(func(t *testing.T, agent, mid, ts, nonce, sig string) {
		h := http.Header{}
		h.Set(HeaderAgent, agent)
		h.Set(HeaderMachineID, mid)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderNonce, nonce)
		h.Set(HeaderSignature, sig)
		a, err := ParseRequestAuth(h)
		if err != nil {
			return
		}
		if len(a.Signature) != ed25519.SignatureSize || len(a.Agent) > 320 || len(a.MachineID) > 128 || len(a.Nonce) > 64 {
			t.Fatalf("accepted oversized auth: %d-byte signature, agent %d, machine %d, nonce %d", len(a.Signature), len(a.Agent), len(a.MachineID), len(a.Nonce))
		}
		if !bytes.Equal(a.Signature, real.Signature) && VerifyRequest(pub, http.MethodPost, "/api/v1/checkin", a, nil) {
			t.Fatalf("a made-up signature verifies: %+v", a)
		}
	})
}

// TestTimestampWithin checks the freshness rule at its edges and far beyond
// them, where subtracting times saturates and negating the result
// overflowed: a timestamp centuries ahead used to pass as fresh.
func TestTimestampWithin(t *testing.T) {
	const skew = 2 * time.Minute
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name string
		unix int64
		want bool
	}{
		{"now", now.Unix(), true},
		{"skew ahead", now.Add(skew).Unix(), true},
		{"skew behind", now.Add(-skew).Unix(), true},
		{"a second past skew ahead", now.Add(skew + time.Second).Unix(), false},
		{"a second past skew behind", now.Add(-skew - time.Second).Unix(), false},
		{"a century ahead", now.AddDate(100, 0, 0).Unix(), false},
		{"far future (year 2500)", time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), false},
		{"year 9999", MaxTimestamp, false},
		{"epoch", 0, false},
		{"far past (year 1)", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), false},
	} {
		a := RequestAuth{Timestamp: time.Unix(tc.unix, 0)}
		if got := a.TimestampWithin(now, skew); got != tc.want {
			t.Errorf("%s (%d): within = %v, want %v", tc.name, tc.unix, got, tc.want)
		}
	}
}

// TestParseRequestAuthTimestampRange: seconds outside 1970..9999 are
// malformed; near the int64 limits time.Unix would wrap around.
func TestParseRequestAuthTimestampRange(t *testing.T) {
	h := http.Header{}
	h.Set(HeaderAgent, "ns/a")
	h.Set(HeaderMachineID, "m")
	h.Set(HeaderNonce, "abc")
	h.Set(HeaderSignature, base64.StdEncoding.EncodeToString(make([]byte, ed25519.SignatureSize)))
	for ts, ok := range map[string]bool{
		"0": true, "1800000000": true, strconv.FormatInt(MaxTimestamp, 10): true,
		"-1": false, "-9223372036854775808": false, strconv.FormatInt(MaxTimestamp+1, 10): false,
		"9223372036854775807": false, "9223372036854775808": false,
	} {
		a, err := ParseRequestAuth(with(h, HeaderTimestamp, ts))
		if (err == nil) != ok {
			t.Errorf("timestamp %s: err = %v, want ok = %v", ts, err, ok)
		}
		if err == nil && strconv.FormatInt(a.Timestamp.Unix(), 10) != ts {
			t.Errorf("timestamp %s parsed as %d", ts, a.Timestamp.Unix())
		}
	}
}

// FuzzTimestampWithin checks the freshness rule for any header value, any
// clock and any allowed skew against exact arithmetic on big integers, which
// cannot overflow: a request passes exactly when its timestamp parses and
// |timestamp - now| <= skew.
func FuzzTimestampWithin(f *testing.F) {
	f.Add("1800000000", int64(1_800_000_000), int64(120))
	f.Add("1800000121", int64(1_800_000_000), int64(120))
	f.Add("253402300799", int64(1_800_000_000), int64(120))
	f.Add("9223372036854775807", int64(1_800_000_000), int64(120))
	f.Add("-9223372036854775808", int64(1_800_000_000), int64(120))
	f.Add("16725225600", int64(1_800_000_000), int64(120))
	f.Fuzz(func(t *testing.T, ts string, nowUnix, skewSeconds int64) {
		// The gateway's clock is a real one and its skew a sane setting;
		// the header is the attacker's.
		if nowUnix < 0 || nowUnix > 1<<40 || skewSeconds < 0 || skewSeconds > 1<<20 {
			return
		}
		h := http.Header{}
		h.Set(HeaderAgent, "ns/a")
		h.Set(HeaderNonce, "abc")
		h.Set(HeaderSignature, base64.StdEncoding.EncodeToString(make([]byte, ed25519.SignatureSize)))
		h.Set(HeaderTimestamp, ts)
		a, err := ParseRequestAuth(h)
		if err != nil {
			return
		}
		claimed, ok := new(big.Int).SetString(strings.TrimSpace(ts), 10)
		if !ok {
			t.Fatalf("timestamp %q parsed as %d but is no integer", ts, a.Timestamp.Unix())
		}
		if claimed.Sign() < 0 || claimed.Cmp(big.NewInt(MaxTimestamp)) > 0 {
			t.Fatalf("timestamp %q outside 1970..9999 parsed", ts)
		}
		diff := new(big.Int).Sub(claimed, big.NewInt(nowUnix))
		want := diff.Abs(diff).Cmp(big.NewInt(skewSeconds)) <= 0
		skew := time.Duration(skewSeconds) * time.Second
		if got := a.TimestampWithin(time.Unix(nowUnix, 0), skew); got != want {
			t.Fatalf("timestamp %q, now %d, skew %s: within = %v, want %v", ts, nowUnix, skew, got, want)
		}
	})
}

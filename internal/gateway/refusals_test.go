package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/protocol"
)

// TestRefusedEnrollmentsAreRecordedOnTheToken: a host holding a token's
// secret but refused (expired, revoked, exhausted, another key) leaves one
// EnrollmentRefused Warning and history entry on that token per cause, not
// one per attempt; a wrong secret leaves nothing; no secret is written.
func TestRefusedEnrollmentsAreRecordedOnTheToken(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	expiredTok, expired := newToken(t, ns, redflagv1.RegistrationTokenSpec{}, -time.Second)
	revokedTok, revoked := newToken(t, ns, redflagv1.RegistrationTokenSpec{}, time.Hour)
	revokedTok.Spec.Revoked = true
	if err := env.Client.Update(ctx, revokedTok); err != nil {
		t.Fatal(err)
	}
	oneSeat, oneSeatToken := newToken(t, ns, redflagv1.RegistrationTokenSpec{MaxUses: ptr.To[int32](1)}, time.Hour)
	first := newHost(t, "first")
	first.enroll(t, oneSeatToken)

	try := func(h *fakeHost, token, code string) {
		t.Helper()
		_, err := host.Register(ctx, h.registerRequest(token))
		if e := refusal(t, err); e.Code != code {
			t.Fatalf("got %d %s, want %s", e.Status, e.Code, code)
		}
	}
	late := newHost(t, "late")
	for range 3 {
		try(late, expired, protocol.CodeTokenExpired)
	}
	try(late, revoked, protocol.CodeTokenRevoked)
	try(late, oneSeatToken, protocol.CodeTokenExhausted)
	rekeyed := newHost(t, "first")
	rekeyed.machineID = first.machineID
	try(rekeyed, oneSeatToken, protocol.CodeKeyMismatch)
	try(late, expired[:7]+strings.Repeat("0", 32), protocol.CodeInvalidToken)

	for _, tc := range []struct {
		tok    *redflagv1.RegistrationToken
		token  string
		causes []string
	}{
		{expiredTok, expired, []string{protocol.CodeTokenExpired}},
		{revokedTok, revoked, []string{protocol.CodeTokenRevoked}},
		{oneSeat, oneSeatToken, []string{protocol.CodeTokenExhausted, protocol.CodeKeyMismatch}},
	} {
		var got redflagv1.RegistrationToken
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(tc.tok), &got); err != nil {
			t.Fatal(err)
		}
		var causes []string
		for _, h := range got.Status.History {
			if h.Reason != "EnrollmentRefused" {
				continue
			}
			causes = append(causes, h.Metadata["cause"])
			if h.Type != "Warning" || h.Metadata["tokenID"] != tc.token[:6] || h.Metadata["refused"] != "1" || h.Metadata["hostname"] == "" {
				t.Errorf("%s: entry %+v", got.Name, h)
			}
			if strings.Contains(h.Message, tc.token[7:]) || strings.Contains(h.Message, tc.token[7:15]) {
				t.Errorf("%s: the token's secret is in the history: %q", got.Name, h.Message)
			}
		}
		if strings.Join(causes, ",") != strings.Join(tc.causes, ",") {
			t.Errorf("%s: history records causes %v, want %v (one per cause, whatever the attempts)", got.Name, causes, tc.causes)
		}
		eventually(t, "the EnrollmentRefused Events on "+got.Name, func() bool {
			return len(refusedEvents(t, ns, got.Name)) == len(tc.causes)
		})
		for _, e := range refusedEvents(t, ns, got.Name) {
			if e.Type != "Warning" || e.Annotations["redflag.io/tokenID"] != tc.token[:6] || strings.Contains(e.Note, tc.token[7:15]) {
				t.Errorf("%s: Event %s %q %v", got.Name, e.Type, e.Note, e.Annotations)
			}
		}
	}
}

// refusedEvents lists the EnrollmentRefused Events on a token.
func refusedEvents(t *testing.T, ns, name string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == "RegistrationToken" && e.Regarding.Name == name && e.Reason == "EnrollmentRefused" {
			out = append(out, e)
		}
	}
	return out
}

// TestRefusalLimiterCounts: one record per period, standing for every
// refusal since the last; bounded keys.
func TestRefusalLimiterCounts(t *testing.T) {
	var l refusalLimiter
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at   time.Duration
		n    int
		take bool
	}{{0, 1, true}, {time.Second, 0, false}, {30 * time.Second, 0, false}, {refusalPeriod, 3, true}, {refusalPeriod + time.Second, 0, false}}
	for i, s := range steps {
		n, ok := l.take("ns/t\x00TokenExpired", t0.Add(s.at))
		if n != s.n || ok != s.take {
			t.Errorf("step %d: take = %d, %v; want %d, %v", i, n, ok, s.n, s.take)
		}
	}
	for i := range maxRefusalKeys + 10 {
		l.take(strings.Repeat("k", i%7)+string(rune('a'+i%26))+time.Duration(i).String(), t0)
	}
	if len(l.seen) > maxRefusalKeys {
		t.Errorf("%d keys kept, bound %d", len(l.seen), maxRefusalKeys)
	}
}

package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/internal/hostclient"
	"github.com/redflag-io/redflag/internal/protocol"
)

func isAlreadyExists(err error) bool { return apierrors.IsAlreadyExists(err) }

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "gw-test-"}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func randomString(t *testing.T, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		v, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			t.Fatal(err)
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// newToken creates a RegistrationToken and gives it the status its
// controller would (id, hash, expiry, phase), then waits until the gateway
// has it indexed. It returns the whole token string a host presents.
func newToken(t *testing.T, ns string, spec redflagv1.RegistrationTokenSpec, expiresIn time.Duration) (*redflagv1.RegistrationToken, string) {
	t.Helper()
	ctx := context.Background()
	tok := &redflagv1.RegistrationToken{ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "tok-"}, Spec: spec}
	if err := env.Client.Create(ctx, tok); err != nil {
		t.Fatal(err)
	}
	id, secret := randomString(t, 6), randomString(t, 32)
	whole := id + "." + secret
	sum := sha256.Sum256([]byte(whole))
	exp := metav1.NewTime(time.Now().Add(expiresIn))
	tok.Status.TokenID, tok.Status.TokenHash, tok.Status.ExpiresAt = id, hex.EncodeToString(sum[:]), &exp
	tok.Status.Phase = redflagv1.TokenActive
	if err := env.Client.Status().Update(ctx, tok); err != nil {
		t.Fatal(err)
	}
	eventually(t, "gateway indexes the token", func() bool { _, ok := gw.tokens.lookup(id); return ok })
	return tok, whole
}

// fakeHost is a host with its own key and machine ID.
type fakeHost struct {
	machineID string
	hostname  string
	key       ed25519.PrivateKey
	pub       string
	id        hostclient.Identity
}

func newHost(t *testing.T, hostname string) *fakeHost {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeHost{machineID: randomString(t, 32), hostname: hostname, key: priv, pub: base64.StdEncoding.EncodeToString(pub)}
}

func (h *fakeHost) registerRequest(token string) protocol.RegisterRequest {
	return protocol.RegisterRequest{
		Token: token, MachineID: h.machineID, Hostname: h.hostname, AgentVersion: "v0.1.0", PublicKey: h.pub,
		OS: protocol.OSInfo{Family: "linux", Distribution: "debian", Version: "12", Arch: "amd64", Kernel: "6.1.0"},
	}
}

// enroll registers the host and waits until the gateway knows its Agent.
func (h *fakeHost) enroll(t *testing.T, token string) protocol.RegisterResponse {
	t.Helper()
	resp, err := host.Register(context.Background(), h.registerRequest(token))
	if err != nil {
		t.Fatalf("registering %s: %v", h.hostname, err)
	}
	h.id = hostclient.Identity{Agent: resp.Namespace + "/" + resp.AgentName, MachineID: h.machineID, Key: h.key}
	eventually(t, "gateway knows the new agent", func() bool { return gw.agents.get(h.id.Agent) != nil })
	return resp
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func refusal(t *testing.T, err error) *hostclient.Error {
	t.Helper()
	var e *hostclient.Error
	if !errors.As(err, &e) {
		t.Fatalf("want a refusal from the gateway, got %v", err)
	}
	return e
}

func getAgent(t *testing.T, key string) *redflagv1.Agent {
	t.Helper()
	var a redflagv1.Agent
	ns, name, _ := strings.Cut(key, "/")
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &a); err != nil {
		t.Fatal(err)
	}
	return &a
}

// updateAgent changes an Agent as a user would, retrying on conflict: the
// gateway may be writing its status at the same moment.
func updateAgent(t *testing.T, key string, change func(*redflagv1.Agent)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		a := getAgent(t, key)
		change(a)
		return env.Client.Update(context.Background(), a)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// warningEvents lists the reasons of Warning Events recorded on an object.
func warningEvents(t *testing.T, ns, name string) []string {
	return eventsOfType(t, ns, name, corev1.EventTypeWarning)
}

func normalEvents(t *testing.T, ns, name string) []string {
	return eventsOfType(t, ns, name, corev1.EventTypeNormal)
}

func eventsOfType(t *testing.T, ns, name, eventType string) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Type == eventType {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

// testGauge is a gauge registered nowhere, for pieces built alone.
func testGauge() prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Name: "redflag_test", Help: "unregistered"})
}

package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// keySigningSeed is the Secret key holding the work-signing Ed25519 seed.
const keySigningSeed = "ed25519.seed"

// ensureSigningKey loads the key that signs work documents, creating it once.
// Every gateway replica shares it, so an agent can verify any replica's answer.
func ensureSigningKey(ctx context.Context, r client.Reader, c client.Writer, ns, name string) (ed25519.PrivateKey, error) {
	var s corev1.Secret
	err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s)
	if apierrors.IsNotFound(err) {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, fmt.Errorf("generating work-signing key: %w", err)
		}
		s = corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app.kubernetes.io/managed-by": "redflag"}},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{keySigningSeed: seed},
		}
		err = c.Create(ctx, &s)
		if apierrors.IsAlreadyExists(err) {
			err = r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("reading work-signing Secret %s/%s: %w", ns, name, err)
	}
	seed := s.Data[keySigningSeed]
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("work-signing Secret %s/%s: key %s has %d bytes, want %d", ns, name, keySigningSeed, len(seed), ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

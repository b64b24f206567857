package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
	"github.com/redflag-io/redflag/controllers"
)

// TestCacheHoldsOnlyTokenSecrets: the manager's Secret cache must not grow
// with the cluster's other Secrets.
func TestCacheHoldsOnlyTokenSecrets(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := newNamespace(t)
	for name, labels := range map[string]map[string]string{
		"someone-elses": nil,
		"a-token":       {redflagv1.LabelToken: "fleet"},
	} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	opts, err := controllers.CacheOptions()
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Cache: opts, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = mgr.Start(ctx) }()
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	eventually(t, 20*time.Second, func() error {
		if err := mgr.GetCache().List(ctx, &list, client.InNamespace(ns)); err != nil {
			return fmt.Errorf("the cache lists no Secrets: %w", err)
		}
		if len(list.Items) == 0 {
			return errors.New("the cache lists no Secrets yet")
		}
		return nil
	})
	if len(list.Items) != 1 || list.Items[0].Name != "a-token" {
		var names []string
		for _, s := range list.Items {
			names = append(names, s.Name)
		}
		t.Errorf("the cache holds Secrets %v, want only [a-token]", names)
	}
}

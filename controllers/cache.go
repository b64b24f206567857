package controllers

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// CacheOptions keeps the manager's cache to what RedFlag owns, so its memory
// does not grow with unrelated objects: of all Secrets it watches (as
// metadata) only the token Secrets it labelled. Everything else it reads
// from Secrets goes through the API reader, uncached.
func CacheOptions() (cache.Options, error) {
	owned, err := labels.NewRequirement(redflagv1.LabelToken, selection.Exists, nil)
	if err != nil {
		return cache.Options{}, fmt.Errorf("building the token Secret selector: %w", err)
	}
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.NewSelector().Add(*owned)},
		},
	}, nil
}

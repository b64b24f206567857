// Package v1alpha1 holds RedFlag's custom resources, group redflag.io:
// RegistrationToken (how a host joins), Agent (one enrolled host),
// ScanSchedule (what to scan how often) and AgentUpdate (a rollout).
//
// +kubebuilder:object:generate=true
// +groupName=redflag.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every RedFlag kind.
	GroupVersion = schema.GroupVersion{Group: "redflag.io", Version: "v1alpha1"}

	// SchemeBuilder registers the RedFlag kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the RedFlag kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

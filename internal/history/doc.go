// Package history keeps the bounded event history that every RedFlag status
// carries. Kubernetes drops Events after about an hour; this list keeps the
// last few dozen for good, within the schema's bounds, so the object stays
// small (see api/v1alpha1 largest_test.go).
package history

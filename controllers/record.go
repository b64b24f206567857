package controllers

import "github.com/redflag-io/redflag/internal/events"

// recordFunc records one occurrence into the status history of the object
// a pass works on, to be sent as an Event once that status is stored
// (reconcile.Pass.Record).
type recordFunc func(reason events.Reason, msg string, metadata map[string]string)

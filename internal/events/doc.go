// Package events is RedFlag's one list of Event reasons (docs/events.md
// documents each; a test keeps the two equal) and the Recorder that sends
// one occurrence both to a Kubernetes Event and to the object's bounded
// status history, so the two always say the same thing.
//
// Events are for transitions only: callers record when something changed,
// never on an unchanged reconcile, heartbeat or scan. Messages and metadata
// must never carry a secret; the Recorder also masks anything shaped like a
// registration token, as a second line of defence.
package events

package reconcile

import (
	"time"

	"github.com/redflag-io/redflag/internal/events"
)

// ConflictRetry is how soon a pass whose write lost a race (the object
// changed since it was read: the gateway, a user, another pass) looks
// again. The watch event of the winning write queues it too; the short
// wait covers a cache that has not caught up.
const ConflictRetry = time.Second

// Stalling says the object's spec cannot be acted on in a way the schema
// could not refuse (an unknown time zone, a selector that does not parse).
// Finish marks the object Stalled with Reason and the error's text, and
// records Event once per generation; Result asks for no requeue.
type Stalling struct {
	// Reason is the Ready and Stalled conditions' reason.
	Reason string
	// Event is recorded when the object becomes stalled for this reason
	// or its spec changes while it stays so; a zero Reason records none.
	Event events.Reason
	// Err says what is wrong; its text is the conditions' and the
	// Event's message, so it must hold no secret.
	Err error
}

// NewStalling is a Stalling recorded as the InvalidSpec Warning Event.
func NewStalling(reason string, err error) *Stalling {
	return &Stalling{Reason: reason, Event: events.InvalidSpec, Err: err}
}

func (e *Stalling) Error() string { return e.Err.Error() }
func (e *Stalling) Unwrap() error { return e.Err }

// Waiting says the pass is done for now but something outside the object
// must change before it can go further, and no watch will say when (a
// Secret in the way that the object does not own): come back After.
type Waiting struct {
	After time.Duration
	Err   error
}

// Wait returns a Waiting for after, with why as its cause.
func Wait(after time.Duration, why error) *Waiting {
	return &Waiting{After: after, Err: why}
}

func (e *Waiting) Error() string { return e.Err.Error() }
func (e *Waiting) Unwrap() error { return e.Err }

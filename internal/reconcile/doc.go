// Package reconcile is the one path every RedFlag controller ends a pass
// by: compare the status it computed with what it read, write it only
// when it changed, answer a lost write (a conflict) with a short retry
// rather than an error, and only after the write has succeeded send the
// pass's Events. History entries go into the status as they are recorded
// and the matching Events wait for the write, so a pass whose write fails
// sends nothing and its retry, starting again from the stored object,
// sends each Event once.
//
// A pass that cannot finish says why with a typed error, and Result turns
// every outcome into what Reconcile returns, in one place:
//
//   - nil: requeue after the wait the pass asked for (0: none).
//   - *Stalling: the spec cannot be acted on. The object is marked
//     Stalled (Ready=False) with a Warning Event once per generation; no
//     requeue and no error, since only a change to the object (which its
//     watch delivers) can move it on.
//   - *Waiting: something outside the object must change first; the
//     status is written and the pass comes back after the wait, with no
//     error log and no failure backoff.
//   - a conflict from any write: the object changed since it was read;
//     look again in ConflictRetry, without an error.
//   - anything else: returned as the error, so controller-runtime logs it
//     and backs off; nothing is written, since what was decided may rest
//     on the failed step.
//
// The idea follows fluxcd/source-controller's internal/error and
// internal/reconcile (typed errors, one result computation, summarize and
// patch), cut to what RedFlag's four kinds need and keeping RedFlag's
// order: status first, Events after.
package reconcile

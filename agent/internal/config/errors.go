package config

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNewerSchema means the file was written by a newer agent.
var ErrNewerSchema = errors.New("written by a newer agent")

var errMissing = errors.New("is required")

// FieldError is a problem with one field of the file. Field uses the
// file's own JSON names, so the message points at what to edit.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return fmt.Sprintf("field %q: %v", e.Field, e.Err) }

func (e *FieldError) Unwrap() error { return e.Err }

// ValidationError lists every invalid field, so one run of the agent shows
// all that needs fixing rather than one problem per restart.
type ValidationError struct {
	Problems []*FieldError
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap lets errors.As find each FieldError.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

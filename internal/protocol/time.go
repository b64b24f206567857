package protocol

import (
	"encoding/json"
	"fmt"
	"time"
)

// Time is an instant that travels as an RFC 3339 string in UTC at whole
// seconds ("2026-12-07T01:02:03Z"), and a zero Time as null: exactly the
// JSON of the API types' metav1.Time, which agents sent before the
// protocol owned its types. The fields that were metav1.Time keep this
// form; the protocol's own instants (Report.Time, WorkDocument.IssuedAt)
// stay time.Time, with nanoseconds.
type Time struct{ time.Time }

// NewTime wraps t.
func NewTime(t time.Time) Time { return Time{t} }

// MarshalJSON writes null for a zero Time, else the UTC instant in RFC 3339
// without fractional seconds.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	b := make([]byte, 0, len(time.RFC3339)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"'), nil
}

// UnmarshalJSON reads null as the zero Time, else an RFC 3339 string.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("time must be an RFC 3339 string: %w", err)
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("invalid time %q: %w", s, err)
	}
	t.Time = v.Local()
	return nil
}

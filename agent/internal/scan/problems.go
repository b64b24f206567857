package scan

import (
	"errors"
	"fmt"
	"strings"
)

// ErrMalformed is wrapped by the error a parser returns when some lines
// looked like entries but could not be read. The parser still returns
// every entry it could read alongside that error.
var ErrMalformed = errors.New("malformed output")

// maxQuoted bounds how many malformed lines an error message quotes.
const maxQuoted = 3

// Problems gathers the malformed lines of one parse.
type Problems struct {
	count  int
	quoted []string
}

// Add records that line n (1-based) could not be read, and why.
func (p *Problems) Add(n int, line, reason string) {
	p.count++
	if len(p.quoted) < maxQuoted {
		p.quoted = append(p.quoted, fmt.Sprintf("line %d: %s: %q", n, reason, Clean(line, 120)))
	}
}

// Err returns nil when nothing was recorded, else an error wrapping
// ErrMalformed that counts the bad lines and quotes the first few.
func (p *Problems) Err() error {
	if p.count == 0 {
		return nil
	}
	msg := strings.Join(p.quoted, "; ")
	if more := p.count - len(p.quoted); more > 0 {
		msg += fmt.Sprintf("; and %d more", more)
	}
	return fmt.Errorf("%w: %d unreadable line(s): %s", ErrMalformed, p.count, msg)
}

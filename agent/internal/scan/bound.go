package scan

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/redflag-io/redflag/internal/protocol"
)

// Field bounds of protocol.PendingUpdate, mirroring its kubebuilder
// MaxLength markers. They are enforced in bytes, which also bounds the
// character count the API server checks.
const (
	MaxNameLen    = 128
	MaxVersionLen = 80
	MaxSourceLen  = 80
)

// Clean makes s safe for a status field of at most max bytes: it replaces
// invalid UTF-8 with U+FFFD, drops control characters (ANSI residue, stray
// carriage returns), trims surrounding space and cuts the result on a rune
// boundary so it never exceeds max bytes. It truncates rather than rejects:
// a long package name is still worth reporting.
func Clean(s string, max int) string {
	if max <= 0 {
		return ""
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return -1
			}
			return r
		}, s)
	}
	s = strings.TrimSpace(s)
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimSpace(s[:cut])
}

// Bound returns u with every string field cleaned to its bound.
func Bound(u protocol.PendingUpdate) protocol.PendingUpdate {
	u.Name = Clean(u.Name, MaxNameLen)
	u.CurrentVersion = Clean(u.CurrentVersion, MaxVersionLen)
	u.AvailableVersion = Clean(u.AvailableVersion, MaxVersionLen)
	u.Source = Clean(u.Source, MaxSourceLen)
	return u
}

// ErrInvalidUpdate is wrapped by the errors Check returns.
var ErrInvalidUpdate = errors.New("invalid pending update")

// Check reports whether u is fit for an Agent's status: a known manager, a
// non-empty name, every field valid UTF-8 without control characters and
// within its bound. Parsers only emit updates that pass; tests assert it.
func Check(u protocol.PendingUpdate) error {
	switch u.Manager {
	case protocol.ManagerApt, protocol.ManagerDnf, protocol.ManagerDocker,
		protocol.ManagerWindowsUpdate, protocol.ManagerWinget:
	default:
		return fmt.Errorf("%w: unknown manager %q", ErrInvalidUpdate, u.Manager)
	}
	if u.Name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidUpdate)
	}
	for _, f := range []struct {
		field, value string
		max          int
	}{
		{"name", u.Name, MaxNameLen},
		{"currentVersion", u.CurrentVersion, MaxVersionLen},
		{"availableVersion", u.AvailableVersion, MaxVersionLen},
		{"source", u.Source, MaxSourceLen},
	} {
		if len(f.value) > f.max {
			return fmt.Errorf("%w: %s is %d bytes, over %d", ErrInvalidUpdate, f.field, len(f.value), f.max)
		}
		if !utf8.ValidString(f.value) {
			return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidUpdate, f.field)
		}
		if strings.IndexFunc(f.value, unicode.IsControl) >= 0 {
			return fmt.Errorf("%w: %s holds a control character", ErrInvalidUpdate, f.field)
		}
		if f.value != strings.TrimSpace(f.value) {
			return fmt.Errorf("%w: %s has surrounding space", ErrInvalidUpdate, f.field)
		}
	}
	return nil
}

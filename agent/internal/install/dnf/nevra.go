package dnf

import (
	"strconv"
	"strings"
)

// validName accepts an RPM package name: letters, digits and
// "._+-", not starting with "-" (so it is never taken for an option).
func validName(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._+-", c) >= 0) {
			return false
		}
	}
	return true
}

// validArch accepts an RPM architecture token.
func validArch(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// validEVR accepts "[epoch:]version-release".
func validEVR(s string) bool {
	if e, rest, ok := strings.Cut(s, ":"); ok {
		if _, err := strconv.ParseUint(e, 10, 32); err != nil {
			return false
		}
		s = rest
	}
	v, r, ok := strings.Cut(s, "-")
	return ok && v != "" && r != "" && !strings.ContainsAny(s, ": \t")
}

package conditions

import "unicode/utf8"

// Truncate cuts s to at most n bytes without splitting a UTF-8 sequence, so
// the API server never sees half a character.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	cut := n
	// Step back over continuation bytes to the start of the rune that
	// straddles the limit, then drop that rune whole.
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

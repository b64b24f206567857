package events

import "regexp"

// tokenShape matches a registration token, `<6 id chars>.<32 secret
// chars>` (see controllers, RegistrationToken). The id is public; the secret
// must never reach an Event or a status. No word boundaries: a token glued
// to other text must be caught too, and masking a look-alike costs nothing.
var tokenShape = regexp.MustCompile(`([a-z0-9]{6})\.[a-z0-9]{32}`)

// Redact masks the secret half of anything shaped like a registration
// token, keeping the public id so the message still says which token. It is
// a second line of defence: callers must not pass secrets at all.
func Redact(s string) string {
	return tokenShape.ReplaceAllString(s, "$1.<redacted>")
}

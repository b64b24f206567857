package docker

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// maxChallengeLen bounds the WWW-Authenticate value the parser reads; real
// registry challenges are a few hundred bytes.
const maxChallengeLen = 8 << 10

// ErrBadChallenge is wrapped by every error ParseChallenges returns.
var ErrBadChallenge = errors.New("malformed WWW-Authenticate challenge")

// Challenge is one authentication challenge of a WWW-Authenticate header
// (RFC 7235): a scheme and its auth-params.
type Challenge struct {
	// Scheme is as sent; compare it case-insensitively.
	Scheme string
	// Params are keyed by lower-case name: realm, service, scope, error.
	Params map[string]string
}

// ParseChallenges reads a WWW-Authenticate value holding one or more
// comma-separated challenges, each a scheme followed by name=value
// parameters whose values are tokens or quoted strings. token68
// credentials (unused by registries) are rejected, as are duplicate
// parameters and control characters.
func ParseChallenges(h string) ([]Challenge, error) {
	if len(h) > maxChallengeLen {
		return nil, fmt.Errorf("%w: over %d bytes", ErrBadChallenge, maxChallengeLen)
	}
	p := challengeParser{s: h}
	var out []Challenge
	for {
		p.skipListSeparators()
		if p.done() {
			break
		}
		c, err := p.challenge()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadChallenge, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no challenge", ErrBadChallenge)
	}
	return out, nil
}

// String formats c canonically (parameters sorted, values quoted), so
// that ParseChallenges(c.String()) gives c back.
func (c Challenge) String() string {
	names := make([]string, 0, len(c.Params))
	for n := range c.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(c.Scheme)
	for i, n := range names {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		b.WriteString(n)
		b.WriteString(`="`)
		for _, r := range []byte(c.Params[n]) {
			if r == '"' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(r)
		}
		b.WriteByte('"')
	}
	return b.String()
}

// challengeParser walks one header value.
type challengeParser struct {
	s   string
	pos int
}

func (p *challengeParser) done() bool { return p.pos >= len(p.s) }

func (p *challengeParser) skipSpace() {
	for !p.done() && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

// skipListSeparators skips whitespace and commas, reporting whether a
// comma was among them (RFC 7230 lists allow empty elements).
func (p *challengeParser) skipListSeparators() bool {
	comma := false
	for !p.done() {
		switch p.s[p.pos] {
		case ',':
			comma = true
		case ' ', '\t':
		default:
			return comma
		}
		p.pos++
	}
	return comma
}

// challenge reads a scheme and its parameters. A following token not
// followed by "=" starts the next challenge and is left unread.
func (p *challengeParser) challenge() (Challenge, error) {
	scheme := p.token()
	if scheme == "" {
		return Challenge{}, fmt.Errorf("expected a scheme at byte %d", p.pos)
	}
	c := Challenge{Scheme: scheme, Params: map[string]string{}}
	for first := true; ; first = false {
		start := p.pos
		comma := p.skipListSeparators()
		if p.done() {
			return c, nil
		}
		if !first && !comma {
			return Challenge{}, fmt.Errorf("expected a comma at byte %d", p.pos)
		}
		name := p.token()
		if name == "" {
			return Challenge{}, fmt.Errorf("unexpected %q at byte %d", p.s[p.pos], p.pos)
		}
		p.skipSpace()
		if p.done() || p.s[p.pos] != '=' {
			if first && !comma {
				return Challenge{}, fmt.Errorf("token68 or missing comma after scheme %q", scheme)
			}
			// The next challenge's scheme: rewind to before its comma.
			p.pos = start
			return c, nil
		}
		p.pos++ // '='
		p.skipSpace()
		value, err := p.value()
		if err != nil {
			return Challenge{}, err
		}
		key := strings.ToLower(name)
		if _, dup := c.Params[key]; dup {
			return Challenge{}, fmt.Errorf("duplicate parameter %q", key)
		}
		c.Params[key] = value
	}
}

// value reads a token or a quoted string.
func (p *challengeParser) value() (string, error) {
	if p.done() {
		return "", errors.New("missing parameter value")
	}
	if p.s[p.pos] != '"' {
		v := p.token()
		if v == "" {
			return "", fmt.Errorf("bad parameter value at byte %d", p.pos)
		}
		return v, nil
	}
	p.pos++
	var b strings.Builder
	for !p.done() {
		c := p.s[p.pos]
		p.pos++
		switch {
		case c == '"':
			return b.String(), nil
		case c == '\\':
			if p.done() {
				return "", errors.New("unterminated quoted string")
			}
			c = p.s[p.pos]
			p.pos++
			if isCTL(c) {
				return "", errors.New("control character in quoted string")
			}
			b.WriteByte(c)
		case isCTL(c):
			return "", errors.New("control character in quoted string")
		default:
			b.WriteByte(c)
		}
	}
	return "", errors.New("unterminated quoted string")
}

// token reads RFC 7230 tchars.
func (p *challengeParser) token() string {
	start := p.pos
	for !p.done() && isTchar(p.s[p.pos]) {
		p.pos++
	}
	return p.s[start:p.pos]
}

func isCTL(c byte) bool { return c < 0x20 && c != '\t' || c == 0x7f }

func isTchar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

package dnf

import (
	"strconv"
	"strings"
)

// splitNA splits "name.arch" at its last dot. It reports false unless both
// parts are present and the arch is a plausible RPM architecture token
// (lowercase letters, digits, underscore), which tells package lines from
// dnf's prose ("Repositories loaded.").
func splitNA(s string) (name, arch string, ok bool) {
	i := strings.LastIndexByte(s, '.')
	if i <= 0 || i == len(s)-1 || strings.ContainsAny(s, ":/") {
		return "", "", false
	}
	name, arch = s[:i], s[i+1:]
	for _, r := range arch {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return "", "", false
		}
	}
	return name, arch, true
}

// validEVR reports whether s looks like "[epoch:]version-release".
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

// parseNEVRA splits "name-[epoch:]version-release.arch", the form
// advisories name packages in.
func parseNEVRA(s string) (name, evr, arch string, ok bool) {
	dot := strings.LastIndexByte(s, '.')
	if dot <= 0 {
		return "", "", "", false
	}
	nevr, arch := s[:dot], s[dot+1:]
	if _, _, ok := splitNA("x." + arch); !ok {
		return "", "", "", false
	}
	rel := strings.LastIndexByte(nevr, '-')
	if rel <= 0 {
		return "", "", "", false
	}
	ver := strings.LastIndexByte(nevr[:rel], '-')
	if ver <= 0 {
		return "", "", "", false
	}
	name, evr = nevr[:ver], nevr[ver+1:]
	if !validEVR(evr) {
		return "", "", "", false
	}
	return name, evr, arch, true
}

// compareEVR orders two "[epoch:]version-release" strings as rpm does: by
// epoch (missing is 0), then version, then release, each with rpmvercmp.
func compareEVR(a, b string) int {
	ea, va, ra := splitEVR(a)
	eb, vb, rb := splitEVR(b)
	if ea != eb {
		if ea < eb {
			return -1
		}
		return 1
	}
	if c := rpmvercmp(va, vb); c != 0 {
		return c
	}
	return rpmvercmp(ra, rb)
}

func splitEVR(s string) (epoch uint64, version, release string) {
	if e, rest, ok := strings.Cut(s, ":"); ok {
		epoch, _ = strconv.ParseUint(e, 10, 64)
		s = rest
	}
	version, release, _ = strings.Cut(s, "-")
	return epoch, version, release
}

// rpmvercmp is rpm's segment-wise version comparison: alternating runs of
// digits (compared numerically) and letters (compared bytewise), other
// characters separating them; "~" sorts before anything, even the end,
// and "^" after the end but before anything else.
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	isAlnum := func(c byte) bool { return isDigit(c) || isAlpha(c) }
	for len(a) > 0 || len(b) > 0 {
		a = strings.TrimLeftFunc(a, func(r rune) bool { return r > 127 || !isAlnum(byte(r)) && r != '~' && r != '^' })
		b = strings.TrimLeftFunc(b, func(r rune) bool { return r > 127 || !isAlnum(byte(r)) && r != '~' && r != '^' })
		if strings.HasPrefix(a, "~") || strings.HasPrefix(b, "~") {
			if !strings.HasPrefix(a, "~") {
				return 1
			}
			if !strings.HasPrefix(b, "~") {
				return -1
			}
			a, b = a[1:], b[1:]
			continue
		}
		if strings.HasPrefix(a, "^") || strings.HasPrefix(b, "^") {
			switch {
			case a == "":
				return -1
			case b == "":
				return 1
			case a[0] != '^':
				return 1
			case b[0] != '^':
				return -1
			}
			a, b = a[1:], b[1:]
			continue
		}
		if a == "" || b == "" {
			break
		}
		class := isAlpha
		num := isDigit(a[0])
		if num {
			class = isDigit
		}
		sa, sb := span(a, class), span(b, class)
		if sb == "" {
			if num {
				return 1
			}
			return -1
		}
		a, b = a[len(sa):], b[len(sb):]
		if num {
			sa, sb = strings.TrimLeft(sa, "0"), strings.TrimLeft(sb, "0")
			if len(sa) != len(sb) {
				if len(sa) > len(sb) {
					return 1
				}
				return -1
			}
		}
		if c := strings.Compare(sa, sb); c != 0 {
			return c
		}
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	default:
		return 1
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// span returns the longest prefix of s whose bytes satisfy class.
func span(s string, class func(byte) bool) string {
	i := 0
	for i < len(s) && class(s[i]) {
		i++
	}
	return s[:i]
}

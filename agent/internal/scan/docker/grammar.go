package docker

import (
	"errors"
	"net/netip"
	"strings"
)

// The checks below follow distribution's reference grammar; they are
// written out by hand so that no regular expression runs on host input.

// maxTagLen is the grammar's bound on a tag.
const maxTagLen = 128

func isLowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return isLowerAlnum(c) || c >= 'A' && c <= 'Z' }

func isWord(c byte) bool { return isAlnum(c) || c == '_' }

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// validTag reports whether t matches [\w][\w.-]{0,127}.
func validTag(t string) bool {
	if t == "" || len(t) > maxTagLen || !isWord(t[0]) {
		return false
	}
	for i := 1; i < len(t); i++ {
		if !isWord(t[i]) && t[i] != '.' && t[i] != '-' {
			return false
		}
	}
	return true
}

// checkPath validates a repository path: slash-separated components of
// lower-case letters and digits joined by ".", "_", "__" or runs of "-".
func checkPath(p string) error {
	if p == "" {
		return errors.New("empty repository path")
	}
	for c := range strings.SplitSeq(p, "/") {
		if !validComponent(c) {
			if strings.ToLower(c) != c {
				return errors.New("repository name must be lowercase")
			}
			return errors.New("bad repository path component")
		}
	}
	return nil
}

func validComponent(c string) bool {
	if c == "" || !isLowerAlnum(c[0]) || !isLowerAlnum(c[len(c)-1]) {
		return false
	}
	for i := 1; i < len(c)-1; {
		switch {
		case isLowerAlnum(c[i]):
			i++
		case c[i] == '.':
			if !isLowerAlnum(c[i+1]) {
				return false
			}
			i++
		case c[i] == '_':
			if c[i+1] == '_' {
				i++
			}
			if !isLowerAlnum(c[i+1]) {
				return false
			}
			i++
		case c[i] == '-':
			for c[i] == '-' {
				i++
			}
			if !isLowerAlnum(c[i]) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// checkDomain validates a registry domain: a host name or bracketed IPv6
// address, with an optional numeric port.
func checkDomain(d string) error {
	host, port := d, ""
	if strings.HasPrefix(d, "[") {
		end := strings.IndexByte(d, ']')
		if end < 0 {
			return errors.New("unclosed IPv6 bracket")
		}
		addr, err := netip.ParseAddr(d[1:end])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return errors.New("bad IPv6 address")
		}
		host, port = "", d[end+1:]
		if port != "" && port[0] != ':' {
			return errors.New("junk after IPv6 address")
		}
	} else if i := strings.IndexByte(d, ':'); i >= 0 {
		host, port = d[:i], d[i:]
	}
	if port != "" {
		p := port[1:]
		if p == "" || len(p) > 5 || strings.Trim(p, "0123456789") != "" {
			return errors.New("bad port")
		}
	}
	if strings.HasPrefix(d, "[") {
		return nil
	}
	if host == "" {
		return errors.New("empty registry host")
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || !isAlnum(label[0]) || !isAlnum(label[len(label)-1]) {
			return errors.New("bad registry host")
		}
		for i := 0; i < len(label); i++ {
			if !isAlnum(label[i]) && label[i] != '-' {
				return errors.New("bad registry host")
			}
		}
	}
	return nil
}

// checkDigest validates "algorithm:encoded". sha256 and sha512 must be
// lower-case hex of their exact length; other algorithms only need the
// grammar's characters.
func checkDigest(d string) error {
	alg, enc, ok := strings.Cut(d, ":")
	if !ok || alg == "" || enc == "" {
		return errors.New("digest is not algorithm:hex")
	}
	switch alg {
	case "sha256":
		if len(enc) != 64 || !isHex(enc) {
			return errors.New("bad sha256 digest")
		}
		return nil
	case "sha512":
		if len(enc) != 128 || !isHex(enc) {
			return errors.New("bad sha512 digest")
		}
		return nil
	}
	if !validAlgorithm(alg) {
		return errors.New("bad digest algorithm")
	}
	for i := 0; i < len(enc); i++ {
		if !isAlnum(enc[i]) && !strings.ContainsRune("=_-", rune(enc[i])) {
			return errors.New("bad digest encoding")
		}
	}
	return nil
}

// validAlgorithm reports whether a matches [a-z0-9]+([+._-][a-z0-9]+)*.
func validAlgorithm(a string) bool {
	prevSep := true
	for i := 0; i < len(a); i++ {
		switch {
		case isLowerAlnum(a[i]):
			prevSep = false
		case strings.IndexByte("+._-", a[i]) >= 0 && !prevSep:
			prevSep = true
		default:
			return false
		}
	}
	return !prevSep
}

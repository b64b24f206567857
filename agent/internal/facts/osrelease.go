package facts

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/redflag-io/redflag/internal/protocol"
)

// ParseOSRelease reads an os-release(5) file: KEY=value lines, values
// optionally in double quotes (with \" \\ \$ \` escapes) or single quotes,
// '#' comments. Lines that do not fit are skipped, as the format asks of
// readers. It fails only when the reader does.
func ParseOSRelease(r io.Reader) (map[string]string, error) {
	vars := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || !isOSReleaseKey(key) {
			continue
		}
		if v, ok := unquote(value); ok {
			vars[key] = v
		}
	}
	if err := sc.Err(); err != nil {
		return vars, fmt.Errorf("read os-release: %w", err)
	}
	return vars, nil
}

func isOSReleaseKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// unquote undoes shell-style quoting of one os-release value; it reports
// false for an unterminated quote.
func unquote(v string) (string, bool) {
	if v == "" {
		return "", true
	}
	switch q := v[0]; q {
	case '\'':
		if len(v) < 2 || v[len(v)-1] != '\'' {
			return "", false
		}
		return v[1 : len(v)-1], true
	case '"':
		if len(v) < 2 || v[len(v)-1] != '"' {
			return "", false
		}
		inner := v[1 : len(v)-1]
		var b strings.Builder
		for i := 0; i < len(inner); i++ {
			if inner[i] == '\\' && i+1 < len(inner) && strings.IndexByte("\"\\$`", inner[i+1]) >= 0 {
				i++
			}
			b.WriteByte(inner[i])
		}
		return b.String(), true
	default:
		return v, true
	}
}

// osInfo maps os-release variables onto OSInfo, with the defaults
// os-release(5) gives for missing ones.
func osInfo(vars map[string]string) protocol.OSInfo {
	info := protocol.OSInfo{
		Distribution: vars["ID"],
		Version:      vars["VERSION_ID"],
		PrettyName:   vars["PRETTY_NAME"],
	}
	if info.Distribution == "" {
		info.Distribution = "linux"
	}
	if info.PrettyName == "" {
		info.PrettyName = strings.TrimSpace(vars["NAME"] + " " + vars["VERSION"])
	}
	if info.PrettyName == "" {
		info.PrettyName = "Linux"
	}
	info.Distribution = clip(info.Distribution, maxDistribution)
	info.Version = clip(info.Version, maxVersion)
	info.PrettyName = clip(info.PrettyName, maxPrettyName)
	return info
}

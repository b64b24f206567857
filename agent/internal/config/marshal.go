package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// MarshalJSON writes the known fields followed by any unknown fields kept
// from the file, sorted by name so the output is deterministic.
func (c Config) MarshalJSON() ([]byte, error) {
	known, err := json.Marshal(plainConfig(c))
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if len(c.extra) == 0 {
		return known, nil
	}
	var buf bytes.Buffer
	buf.Write(known[:len(known)-1]) // drop the closing brace
	for _, name := range slices.Sorted(maps.Keys(c.extra)) {
		key, err := json.Marshal(name)
		if err != nil {
			return nil, fmt.Errorf("encode field name %q: %w", name, err)
		}
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		buf.Write(key)
		buf.WriteByte(':')
		buf.Write(c.extra[name])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// encode renders the file as indented JSON with a trailing newline, the
// form people expect to read and diff.
func (c *Config) encode() ([]byte, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, fmt.Errorf("indent config: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

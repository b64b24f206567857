package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// plainConfig is Config without its methods, so json does not recurse
// into Config.MarshalJSON.
type plainConfig Config

// knownFields are Config's JSON names; anything else in a version-2 file
// is kept in Config.extra.
var knownFields = func() []string {
	t := reflect.TypeFor[plainConfig]()
	var names []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}()

// Migration describes an in-place upgrade of the file, for the caller's
// ConfigMigrated event.
type Migration struct {
	FromVersion int
	ToVersion   int
	// BackupPath holds the original bytes; empty until Load writes it.
	BackupPath string
	// Dropped names old fields that had a value but no place in the new
	// layout (for example the old server's access tokens). Names only:
	// some of them were secrets.
	Dropped []string
}

func (m *Migration) String() string {
	s := fmt.Sprintf("config schema %d -> %d", m.FromVersion, m.ToVersion)
	if m.BackupPath != "" {
		s += ", backup " + m.BackupPath
	}
	if len(m.Dropped) > 0 {
		s += ", dropped " + strings.Join(m.Dropped, ",")
	}
	return s
}

// Parse decodes and validates a config file's bytes without touching any
// file. An older layout is translated in memory and described by the
// returned Migration (nil when the bytes are already current).
func Parse(data []byte) (*Config, *Migration, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, errors.New("file is empty")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, nil, describeJSONError(data, err)
	}
	if fields == nil {
		return nil, nil, errors.New("is null, want a JSON object")
	}
	version, err := schemaVersion(fields)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case version > CurrentSchemaVersion:
		return nil, nil, fmt.Errorf("schemaVersion %d was %w (this agent reads up to %d): upgrade the agent or restore an older file",
			version, ErrNewerSchema, CurrentSchemaVersion)
	case version == CurrentSchemaVersion:
		cfg, err := parseV2(data, fields)
		return cfg, nil, err
	default:
		return parseV1(data, fields)
	}
}

// schemaVersion reads the version, treating a file without one as
// version 1 only if it carries the old layout's fields: an empty object or
// an unrelated JSON file must not be "migrated" into an empty identity.
func schemaVersion(fields map[string]json.RawMessage) (int64, error) {
	raw, ok := fields["schemaVersion"]
	if !ok {
		if looksLikeV1(fields) {
			return 1, nil
		}
		return 0, &FieldError{Field: "schemaVersion", Err: errors.New("is missing and the file is not an older agent.json either")}
	}
	var v int64
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, &FieldError{Field: "schemaVersion", Err: fmt.Errorf("%s is not an integer", raw)}
	}
	if v < 1 {
		return 0, &FieldError{Field: "schemaVersion", Err: fmt.Errorf("%d is not a schema version", v)}
	}
	return v, nil
}

func parseV2(data []byte, fields map[string]json.RawMessage) (*Config, error) {
	var cfg Config
	if err := json.Unmarshal(data, (*plainConfig)(&cfg)); err != nil {
		return nil, describeJSONError(data, err)
	}
	cfg.extra = unknownFields(fields)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// unknownFields returns the fields json.Unmarshal did not consume. It
// matches names case-insensitively, as encoding/json does, so a field it
// folded into Config is not written back a second time.
func unknownFields(fields map[string]json.RawMessage) map[string][]byte {
	var extra map[string][]byte
	for name, raw := range fields {
		known := false
		for _, k := range knownFields {
			if strings.EqualFold(name, k) {
				known = true
				break
			}
		}
		if known {
			continue
		}
		if extra == nil {
			extra = map[string][]byte{}
		}
		extra[name] = bytes.Clone(raw)
	}
	return extra
}

// describeJSONError turns encoding/json errors into messages a person
// editing the file can act on: a line and column, or the field's name.
func describeJSONError(data []byte, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := position(data, syn.Offset)
		return fmt.Errorf("invalid JSON at line %d, column %d: %w", line, col, err)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		if typ.Field == "" {
			return fmt.Errorf("want a JSON object, found a JSON %s: %w", typ.Value, err)
		}
		return &FieldError{Field: typ.Field, Err: fmt.Errorf("want %s, found a JSON %s: %w", typ.Type, typ.Value, err)}
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// position converts a json.SyntaxError offset (bytes read, including the
// offending one) into the 1-based line and column of the offending byte.
func position(data []byte, offset int64) (line, col int) {
	offset = min(max(offset-1, 0), int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = len(before) - bytes.LastIndexByte(before, '\n')
	return line, col
}

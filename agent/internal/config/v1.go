package config

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// configV1 is the flat snake_case agent.json of RedFlag's original agent
// (schema 1, no schemaVersion field). Its server issued JWT access and
// refresh tokens; the later builds this migration targets also stored the
// host's machine ID and an Ed25519 key pair, hex-encoded. See
// testdata/v1-agent.json for a complete example.
//
// What migration keeps (identity first, unchanged):
//
//	agent_id            -> agentName (a UUID; lowercased, UUIDs ignore case;
//	                       the all-zero UUID means "not registered")
//	machine_id          -> machineID
//	private_key (hex)   -> privateKey (base64 seed); 32-byte seed or 64-byte key
//	public_key (hex)    -> publicKey (base64); derived if absent
//	server_url          -> serverURL, if https (schema 2 speaks https only)
//	tls.ca_file         -> caFile
//	check_in_interval   -> checkInInterval (seconds; clamped to 5s..1h)
//	proxy               -> proxy (https, else http; username/password kept)
//	logging.level       -> logLevel
//	metadata            -> labels (entries that are valid label pairs)
//
// Everything else that had a value (tokens, registration_token, tags,
// display_name, tls.insecure_skip_verify, a non-https server_url, ...) is
// listed in Migration.Dropped, except the old log-rotation settings inside
// "logging" (the service manager keeps logs now). The backup keeps the
// original bytes. Only identity fields fail the migration when invalid.
type configV1 struct {
	ServerURL         string            `json:"server_url"`
	RegistrationToken string            `json:"registration_token"`
	AgentID           string            `json:"agent_id"`
	Token             string            `json:"token"`
	RefreshToken      string            `json:"refresh_token"`
	CheckInInterval   int64             `json:"check_in_interval"`
	MachineID         string            `json:"machine_id"`
	PrivateKey        string            `json:"private_key"`
	PublicKey         string            `json:"public_key"`
	Proxy             proxyV1           `json:"proxy"`
	TLS               tlsV1             `json:"tls"`
	Logging           loggingV1         `json:"logging"`
	Metadata          map[string]string `json:"metadata"`
}

type proxyV1 struct {
	Enabled  bool   `json:"enabled"`
	HTTP     string `json:"http"`
	HTTPS    string `json:"https"`
	NoProxy  string `json:"no_proxy"`
	Username string `json:"username"`
	Password string `json:"password"`
}

type tlsV1 struct {
	InsecureSkipVerify bool   `json:"insecure_skip_verify"`
	CertFile           string `json:"cert_file"`
	KeyFile            string `json:"key_file"`
	CAFile             string `json:"ca_file"`
}

type loggingV1 struct {
	Level string `json:"level"`
}

// v1Markers are fields only the old layout has; one of them must be
// present for a file without schemaVersion to count as version 1.
var v1Markers = []string{"server_url", "agent_id", "machine_id", "private_key", "registration_token", "check_in_interval"}

// v1Carried are the top-level v1 fields migration carries over (in whole
// or in part); any other field with a value is reported as dropped.
var v1Carried = []string{"server_url", "agent_id", "machine_id", "private_key", "public_key",
	"check_in_interval", "proxy", "tls", "logging", "metadata"}

const nilUUID = "00000000-0000-0000-0000-000000000000"

func looksLikeV1(fields map[string]json.RawMessage) bool {
	for _, m := range v1Markers {
		if _, ok := fields[m]; ok {
			return true
		}
	}
	return false
}

func parseV1(data []byte, fields map[string]json.RawMessage) (*Config, *Migration, error) {
	var old configV1
	if err := json.Unmarshal(data, &old); err != nil {
		return nil, nil, fmt.Errorf("schema 1 file: %w", describeJSONError(data, err))
	}
	mig := &Migration{FromVersion: 1, ToVersion: CurrentSchemaVersion}
	for name, raw := range fields {
		if !slices.Contains(v1Carried, name) && !isZeroJSON(raw) {
			mig.Dropped = append(mig.Dropped, name)
		}
	}
	cfg, err := translateV1(&old, mig)
	if err != nil {
		return nil, nil, fmt.Errorf("migrating schema 1 file: %w", err)
	}
	slices.Sort(mig.Dropped)
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("migrating schema 1 file: %w", err)
	}
	return cfg, mig, nil
}

func translateV1(old *configV1, mig *Migration) (*Config, error) {
	cfg := New()
	drop := func(name string) { mig.Dropped = append(mig.Dropped, name) }

	if id := strings.ToLower(strings.TrimSpace(old.AgentID)); id != nilUUID {
		cfg.AgentName = id
	}
	cfg.MachineID = strings.TrimSpace(old.MachineID)
	if err := translateV1Keys(old, cfg); err != nil {
		return nil, err
	}

	switch {
	case old.ServerURL == "":
	case validateServerURL(old.ServerURL) == nil:
		cfg.ServerURL = old.ServerURL
	default:
		// The original defaulted to http://localhost:8080. Keeping the
		// identity matters more than the URL: `register --server` sets it.
		drop("server_url")
	}
	switch {
	case old.TLS.CAFile == "":
	case filepath.IsAbs(old.TLS.CAFile):
		cfg.CAFile = old.TLS.CAFile
	default:
		drop("tls.ca_file") // relative to a working directory we cannot know
	}
	if old.TLS.InsecureSkipVerify {
		drop("tls.insecure_skip_verify") // schema 2 always verifies against the pinned CA
	}
	if old.TLS.CertFile != "" || old.TLS.KeyFile != "" {
		drop("tls.cert_file")
	}

	if old.CheckInInterval > 0 {
		d := time.Duration(min(max(old.CheckInInterval, int64(MinCheckInInterval/time.Second)), int64(MaxCheckInInterval/time.Second))) * time.Second
		cfg.CheckInInterval = d.String()
	}

	proxy, err := translateV1Proxy(old.Proxy)
	if err != nil {
		drop("proxy")
	}
	cfg.Proxy = proxy
	if old.Proxy.NoProxy != "" {
		drop("proxy.no_proxy")
	}

	level := strings.ToLower(old.Logging.Level)
	if level == "warning" {
		level = "warn"
	}
	if logLevels[level] {
		cfg.LogLevel = level
	} else {
		drop("logging.level")
	}

	for k, v := range old.Metadata {
		if validateLabel(k, v) != nil {
			drop("metadata." + k)
			continue
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[k] = v
	}
	return cfg, nil
}

// translateV1Keys re-encodes the key pair. A key that cannot be decoded is
// an error, never dropped: a host without its key cannot prove who it is.
func translateV1Keys(old *configV1, cfg *Config) error {
	if old.PrivateKey == "" {
		if old.PublicKey != "" {
			return &FieldError{Field: "public_key", Err: errors.New("is set but private_key is not")}
		}
		return nil
	}
	raw, err := hex.DecodeString(strings.TrimSpace(old.PrivateKey))
	if err != nil {
		return &FieldError{Field: "private_key", Err: fmt.Errorf("is not hex: %w", err)}
	}
	key, err := privateKeyFromBytes(raw)
	if err != nil {
		return &FieldError{Field: "private_key", Err: err}
	}
	if old.PublicKey != "" {
		pub, err := hex.DecodeString(strings.TrimSpace(old.PublicKey))
		if err != nil {
			return &FieldError{Field: "public_key", Err: fmt.Errorf("is not hex: %w", err)}
		}
		if !bytes.Equal(pub, key[32:]) {
			return &FieldError{Field: "public_key", Err: errors.New("does not match private_key")}
		}
	}
	cfg.PrivateKey = base64.StdEncoding.EncodeToString(key.Seed())
	cfg.PublicKey = base64.StdEncoding.EncodeToString(key[32:])
	return nil
}

// translateV1Proxy folds the old per-scheme proxy block into one URL,
// keeping the credentials, which the old file stored beside it.
func translateV1Proxy(p proxyV1) (string, error) {
	raw := p.HTTPS
	if raw == "" {
		raw = p.HTTP
	}
	if !p.Enabled || raw == "" {
		return "", nil
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := parseProxy(raw)
	if err != nil {
		return "", err
	}
	if p.Username != "" {
		if p.Password != "" {
			u.User = url.UserPassword(p.Username, p.Password)
		} else {
			u.User = url.User(p.Username)
		}
	}
	return u.String(), nil
}

// isZeroJSON reports whether a raw value carries nothing worth reporting
// as dropped: the original wrote every field, set or not. It looks one
// level into objects, which is as deep as the old layout went.
func isZeroJSON(raw json.RawMessage) bool {
	if isZeroScalar(raw) {
		return true
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	for _, v := range m {
		if !isZeroScalar(v) {
			return false
		}
	}
	return true
}

func isZeroScalar(raw json.RawMessage) bool {
	switch string(bytes.TrimSpace(raw)) {
	case "null", `""`, "false", "0", "{}", "[]", `"0001-01-01T00:00:00Z"`, `"` + nilUUID + `"`:
		return true
	}
	return false
}

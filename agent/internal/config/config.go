package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net/url"
	"time"
)

// CurrentSchemaVersion is the layout this agent reads natively and writes.
const CurrentSchemaVersion = 2

// DefaultCheckInInterval is used when the file names none.
const DefaultCheckInInterval = "60s"

// Bounds on checkInInterval; they match the Agent CRD's spec.checkInInterval
// so the agent never runs at a rate the cluster would refuse.
const (
	MinCheckInInterval = 5 * time.Second
	MaxCheckInInterval = time.Hour
)

// Config is the version-2 agent config file.
//
// Keys are stored as standard base64 strings so the file stays plain JSON
// that an operator can read and diff; use the typed accessors to get them.
type Config struct {
	// SchemaVersion is the layout version; Save always writes
	// CurrentSchemaVersion.
	SchemaVersion int `json:"schemaVersion"`
	// ServerURL is the gateway's https URL.
	ServerURL string `json:"serverURL,omitempty"`
	// CAFile is the absolute path of the pinned CA bundle (PEM) that signs
	// the gateway's certificate.
	CAFile string `json:"caFile,omitempty"`
	// AgentName is the name of this host's Agent object.
	AgentName string `json:"agentName,omitempty"`
	// Namespace is the namespace of this host's Agent object.
	Namespace string `json:"namespace,omitempty"`
	// MachineID is the machine ID bound at enrollment.
	MachineID string `json:"machineID,omitempty"`
	// PrivateKey is the host's Ed25519 private key: the 32-byte seed
	// (written by this agent) or the 64-byte seed||public form.
	PrivateKey string `json:"privateKey,omitempty"`
	// PublicKey is the host's Ed25519 public key (32 bytes).
	PublicKey string `json:"publicKey,omitempty"`
	// ReleasePublicKey is the Ed25519 key (32 bytes) that signs agent
	// releases, pinned at install time.
	ReleasePublicKey string `json:"releasePublicKey,omitempty"`
	// WorkPublicKey is the manager's Ed25519 key (32 bytes) that signs
	// work documents; registration returns it.
	WorkPublicKey string `json:"workPublicKey,omitempty"`
	// Labels are copied onto the Agent at enrollment.
	Labels map[string]string `json:"labels,omitempty"`
	// CheckInInterval is a Go duration string between 5s and 1h.
	CheckInInterval string `json:"checkInInterval,omitempty"`
	// Proxy is an http, https or socks5 proxy URL. Empty means the
	// standard HTTPS_PROXY/NO_PROXY environment applies.
	Proxy string `json:"proxy,omitempty"`
	// LogLevel is debug, info, warn or error; empty means info.
	LogLevel string `json:"logLevel,omitempty"`

	// extra holds fields this agent does not know, written back by Save.
	extra map[string][]byte
}

// New returns an empty current-version config with defaults filled in.
func New() *Config {
	return &Config{SchemaVersion: CurrentSchemaVersion, CheckInInterval: DefaultCheckInInterval}
}

// CheckInDuration returns the check-in interval, or the default when the
// field is empty or (in a config that skipped Validate) unparsable.
func (c *Config) CheckInDuration() time.Duration {
	d, err := time.ParseDuration(c.CheckInInterval)
	if err != nil || d <= 0 {
		d, _ = time.ParseDuration(DefaultCheckInInterval)
	}
	return d
}

// Ed25519PrivateKey decodes PrivateKey into the 64-byte form crypto/ed25519
// signs with.
func (c *Config) Ed25519PrivateKey() (ed25519.PrivateKey, error) {
	return decodePrivateKey(c.PrivateKey)
}

// Ed25519PublicKey decodes PublicKey.
func (c *Config) Ed25519PublicKey() (ed25519.PublicKey, error) {
	return decodePublicKey(c.PublicKey)
}

// ReleaseKey decodes ReleasePublicKey; it returns nil, nil when none is
// pinned.
func (c *Config) ReleaseKey() (ed25519.PublicKey, error) {
	if c.ReleasePublicKey == "" {
		return nil, nil
	}
	return decodePublicKey(c.ReleasePublicKey)
}

// WorkKey decodes WorkPublicKey; it returns nil, nil before registration.
func (c *Config) WorkKey() (ed25519.PublicKey, error) {
	if c.WorkPublicKey == "" {
		return nil, nil
	}
	return decodePublicKey(c.WorkPublicKey)
}

// SetKey stores key and its public half. It writes the 32-byte seed: it is
// the RFC 8032 private key, and a seed cannot disagree with its public key.
func (c *Config) SetKey(key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("private key is %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	c.PrivateKey = base64.StdEncoding.EncodeToString(key.Seed())
	c.PublicKey = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	return nil
}

// ProxyURL parses Proxy; it returns nil, nil when none is set.
func (c *Config) ProxyURL() (*url.URL, error) {
	if c.Proxy == "" {
		return nil, nil
	}
	return parseProxy(c.Proxy)
}

// Registered reports whether the file holds a complete enrolled identity,
// naming the first missing field otherwise. Load accepts a half-written
// config (register fills it in); `run` needs this to pass.
func (c *Config) Registered() error {
	for _, f := range []struct{ name, value string }{
		{"serverURL", c.ServerURL},
		{"agentName", c.AgentName},
		{"namespace", c.Namespace},
		{"machineID", c.MachineID},
		{"privateKey", c.PrivateKey},
		{"publicKey", c.PublicKey},
	} {
		if f.value == "" {
			return &FieldError{Field: f.name, Err: errMissing}
		}
	}
	return nil
}

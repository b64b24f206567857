package config

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Patterns copied from the Agent CRD and Kubernetes object naming, so a
// bad value fails here, at the host, with the field named, instead of as a
// refusal from the server later.
var (
	machineIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	labelName        = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
)

var logLevels = map[string]bool{"": true, "debug": true, "info": true, "warn": true, "error": true}

// Validate checks every field that is set. Empty identity fields are
// allowed (see Registered); a set field must be well formed.
func (c *Config) Validate() error {
	var v validator
	if c.SchemaVersion != CurrentSchemaVersion {
		v.add("schemaVersion", fmt.Errorf("is %d, want %d", c.SchemaVersion, CurrentSchemaVersion))
	}
	if c.ServerURL != "" {
		v.add("serverURL", validateServerURL(c.ServerURL))
	}
	if c.CAFile != "" && !filepath.IsAbs(c.CAFile) {
		// A relative path would depend on the service's working directory.
		v.add("caFile", fmt.Errorf("%q is not an absolute path", c.CAFile))
	}
	if c.AgentName != "" && (len(c.AgentName) > 253 || !dns1123Subdomain.MatchString(c.AgentName)) {
		v.add("agentName", fmt.Errorf("%q is not a valid object name (lowercase letters, digits, '-' and '.', at most 253)", c.AgentName))
	}
	if c.Namespace != "" && (len(c.Namespace) > 63 || !dns1123Label.MatchString(c.Namespace)) {
		v.add("namespace", fmt.Errorf("%q is not a valid namespace (lowercase letters, digits and '-', at most 63)", c.Namespace))
	}
	if c.MachineID != "" && (len(c.MachineID) > 128 || !machineIDPattern.MatchString(c.MachineID)) {
		v.add("machineID", fmt.Errorf("%q is not a valid machine ID", c.MachineID))
	}
	c.validateKeys(&v)
	if c.ReleasePublicKey != "" {
		_, err := decodePublicKey(c.ReleasePublicKey)
		v.add("releasePublicKey", err)
	}
	if c.WorkPublicKey != "" {
		_, err := decodePublicKey(c.WorkPublicKey)
		v.add("workPublicKey", err)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) { // stable messages
		v.add("labels", validateLabel(k, c.Labels[k]))
	}
	if c.CheckInInterval != "" {
		v.add("checkInInterval", validateInterval(c.CheckInInterval))
	}
	if c.Proxy != "" {
		_, err := parseProxy(c.Proxy)
		v.add("proxy", err)
	}
	if !logLevels[c.LogLevel] {
		v.add("logLevel", fmt.Errorf("%q is not one of debug, info, warn, error", c.LogLevel))
	}
	return v.err()
}

// validateKeys checks each key's encoding and length and that the two
// halves belong together: a mismatched pair would sign requests the server
// cannot verify, which looks like an outage rather than a config error.
func (c *Config) validateKeys(v *validator) {
	var privOK, pubOK bool
	if c.PrivateKey != "" {
		_, err := decodePrivateKey(c.PrivateKey)
		v.add("privateKey", err)
		privOK = err == nil
	}
	if c.PublicKey != "" {
		_, err := decodePublicKey(c.PublicKey)
		v.add("publicKey", err)
		pubOK = err == nil
	}
	switch {
	case privOK && pubOK:
		priv, _ := decodePrivateKey(c.PrivateKey)
		pub, _ := decodePublicKey(c.PublicKey)
		if !pub.Equal(priv.Public()) {
			v.add("publicKey", errors.New("does not match privateKey"))
		}
	case privOK && c.PublicKey == "":
		v.add("publicKey", errors.New("is required when privateKey is set"))
	case pubOK && c.PrivateKey == "":
		v.add("privateKey", errors.New("is required when publicKey is set"))
	}
}

func validateInterval(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"60s\" or \"5m\"", s)
	}
	if d < MinCheckInInterval || d > MaxCheckInInterval {
		return fmt.Errorf("%s is outside %s..%s", d, MinCheckInInterval, MaxCheckInInterval)
	}
	return nil
}

// validateLabel applies Kubernetes label syntax: [prefix/]name=value.
func validateLabel(key, value string) error {
	name := key
	if prefix, rest, ok := strings.Cut(key, "/"); ok {
		if prefix == "" || len(prefix) > 253 || !dns1123Subdomain.MatchString(prefix) {
			return fmt.Errorf("key %q has an invalid prefix", key)
		}
		name = rest
	}
	if name == "" || len(name) > 63 || !labelName.MatchString(name) {
		return fmt.Errorf("key %q is not a valid label name", key)
	}
	if value != "" && (len(value) > 63 || !labelName.MatchString(value)) {
		return fmt.Errorf("value %q of %q is not a valid label value", value, key)
	}
	return nil
}

// validator collects field problems in the order they are found.
type validator struct {
	problems []*FieldError
}

func (v *validator) add(field string, err error) {
	if err != nil {
		v.problems = append(v.problems, &FieldError{Field: field, Err: err})
	}
}

func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

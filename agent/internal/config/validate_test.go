package config

import (
	"errors"
	"strings"
	"testing"
)

func validBase() Config {
	return Config{
		SchemaVersion:    2,
		ServerURL:        "https://gw.example.com/redflag",
		CAFile:           "/etc/redflag/ca.pem",
		AgentName:        "web-01.eu",
		Namespace:        "fleet-eu",
		MachineID:        "4c4c4544004a3510804cb4c04f4d3732",
		PrivateKey:       "1BOPIUXc/dsdKVELmm7DN8L3hv25hq63eVD66DbU2Jk=",
		PublicKey:        "k7QP3pt6S/Cadi3VnYA3k+7suQyQTbKUrF/uroj1+KY=",
		ReleasePublicKey: "mWqwjwxw7uLDOYwLAgUx8am7DRfmS8m6EaCBP7lMZcg=",
		Labels:           map[string]string{"redflag.io/role": "web", "tier": ""},
		CheckInInterval:  "90s",
		Proxy:            "http://user:pw@proxy:3128",
		LogLevel:         "debug",
	}
}

func TestValidate(t *testing.T) {
	if err := new(validBase()).Validate(); err != nil {
		t.Fatalf("base config invalid: %v", err)
	}
	// 64-byte form of the same key, as crypto/ed25519 stores it.
	const longKey = "1BOPIUXc/dsdKVELmm7DN8L3hv25hq63eVD66DbU2JmTtA/em3pL8Jp2LdWdgDeT7uy5DJBNspSsX+6uiPX4pg=="

	tests := []struct {
		name   string
		mutate func(*Config)
		field  string // "" means valid
		want   string
	}{
		{"empty identity is fine", func(c *Config) { *c = *New() }, "", ""},
		{"64-byte private key", func(c *Config) { c.PrivateKey = longKey }, "", ""},
		{"ipv6 server", func(c *Config) { c.ServerURL = "https://[2001:db8::1]:8443" }, "", ""},
		{"old schema in memory", func(c *Config) { c.SchemaVersion = 1 }, "schemaVersion", "want 2"},
		{"http server", func(c *Config) { c.ServerURL = "http://gw.example.com" }, "serverURL", "https://"},
		{"no scheme", func(c *Config) { c.ServerURL = "gw.example.com:443" }, "serverURL", ""},
		{"no host", func(c *Config) { c.ServerURL = "https:///path" }, "serverURL", "no host"},
		{"credentials", func(c *Config) { c.ServerURL = "https://a:b@gw" }, "serverURL", "password"},
		{"query", func(c *Config) { c.ServerURL = "https://gw/?x=1" }, "serverURL", "query"},
		{"unparsable", func(c *Config) { c.ServerURL = "https://gw:port" }, "serverURL", "not a valid URL"},
		{"relative CA", func(c *Config) { c.CAFile = "ca.pem" }, "caFile", "absolute"},
		{"upper-case name", func(c *Config) { c.AgentName = "Web-01" }, "agentName", "object name"},
		{"long namespace", func(c *Config) { c.Namespace = strings.Repeat("a", 64) }, "namespace", ""},
		{"machine ID with space", func(c *Config) { c.MachineID = "abc def" }, "machineID", ""},
		{"short private key", func(c *Config) { c.PrivateKey = "1BOPIUXc/dsdKVELmm7DN8L3hv25hq63eVD66DbU2A==" }, "privateKey", "31 bytes"},
		{"private key not base64", func(c *Config) { c.PrivateKey = "not base64!" }, "privateKey", "base64"},
		{"url-safe base64", func(c *Config) { c.PublicKey = "k7QP3pt6S_Cadi3VnYA3k-7suQyQTbKUrF_uroj1-KY=" }, "publicKey", "base64"},
		{"corrupt long key", func(c *Config) { c.PrivateKey = longKey[:60] + "AAAA" + longKey[64:] }, "privateKey", "public half"},
		{"short public key", func(c *Config) { c.PublicKey = "k7QP3pt6S/Cadi3VnYA3k+7suQyQTbKUrF/uroj1+A==" }, "publicKey", "31 bytes"},
		{"mismatched pair", func(c *Config) { c.PublicKey = c.ReleasePublicKey }, "publicKey", "does not match"},
		{"public without private", func(c *Config) { c.PrivateKey = "" }, "privateKey", "required"},
		{"private without public", func(c *Config) { c.PublicKey = "" }, "publicKey", "required"},
		{"release key too long", func(c *Config) { c.ReleasePublicKey = longKey }, "releasePublicKey", "64 bytes"},
		{"work key not base64", func(c *Config) { c.WorkPublicKey = "@@@" }, "workPublicKey", "base64"},
		{"label key", func(c *Config) { c.Labels = map[string]string{"bad key": "x"} }, "labels", "bad key"},
		{"label prefix", func(c *Config) { c.Labels = map[string]string{"Example.COM/x": "y"} }, "labels", "prefix"},
		{"label value", func(c *Config) { c.Labels = map[string]string{"k": "-x"} }, "labels", "value"},
		{"interval too short", func(c *Config) { c.CheckInInterval = "1s" }, "checkInInterval", "outside"},
		{"interval too long", func(c *Config) { c.CheckInInterval = "2h" }, "checkInInterval", "outside"},
		{"interval not a duration", func(c *Config) { c.CheckInInterval = "300" }, "checkInInterval", "duration"},
		{"ftp proxy", func(c *Config) { c.Proxy = "ftp://proxy" }, "proxy", "scheme"},
		{"proxy without host", func(c *Config) { c.Proxy = "http://" }, "proxy", "no host"},
		{"proxy password not echoed", func(c *Config) { c.Proxy = "http://u:topsecret@proxy:bad" }, "proxy", "not a valid URL"},
		{"log level", func(c *Config) { c.LogLevel = "verbose" }, "logLevel", "verbose"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validBase()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a FieldError", err)
			}
			if fe.Field != tt.field {
				t.Errorf("field %q, want %q (%v)", fe.Field, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Errorf("error leaks the proxy password: %v", err)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := validBase()
	cfg.ServerURL = "http://x"
	cfg.LogLevel = "loud"
	cfg.CheckInInterval = "0s"
	err := cfg.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
	for _, f := range []string{`"serverURL"`, `"logLevel"`, `"checkInInterval"`} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%v does not name %s", err, f)
		}
	}
}

func TestRegistered(t *testing.T) {
	cfg := validBase()
	if err := cfg.Registered(); err != nil {
		t.Fatal(err)
	}
	cfg.Namespace = ""
	var fe *FieldError
	if err := cfg.Registered(); !errors.As(err, &fe) || fe.Field != "namespace" {
		t.Errorf("Registered() = %v, want the namespace named", err)
	}
}

func TestCheckInDurationDefault(t *testing.T) {
	for _, s := range []string{"", "junk", "-5s"} {
		if got := (&Config{CheckInInterval: s}).CheckInDuration().String(); got != "1m0s" {
			t.Errorf("%q: %s, want the 60s default", s, got)
		}
	}
}

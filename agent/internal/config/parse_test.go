package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrorPosition(t *testing.T) {
	data := "{\n  \"schemaVersion\": 2,\n  \"agentName\": web-01\n}\n"
	_, _, err := Parse([]byte(data))
	if err == nil || !strings.Contains(err.Error(), "line 3, column 16") {
		t.Errorf("error %v, want line 3, column 16", err)
	}
}

func TestParseFieldNamesAreCaseInsensitiveLikeEncodingJSON(t *testing.T) {
	// encoding/json folds "AgentName" into agentName; it must not also be
	// kept as an unknown field and written twice.
	cfg, _, err := Parse([]byte(`{"schemaVersion": 2, "AgentName": "web-01", "futureThing": true}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AgentName != "web-01" {
		t.Errorf("agentName %q", cfg.AgentName)
	}
	out, err := cfg.encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "AgentName") || !strings.Contains(string(out), `"futureThing": true`) {
		t.Errorf("encoded:\n%s", out)
	}
}

func TestParseDoesNotMigrateUnrelatedJSON(t *testing.T) {
	_, _, err := Parse([]byte(`{}`))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "schemaVersion" {
		t.Errorf("Parse({}) = %v, want schemaVersion named", err)
	}
}

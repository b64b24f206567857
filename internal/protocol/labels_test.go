package protocol

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestValidateLabels(t *testing.T) {
	many := map[string]string{}
	for i := range MaxRegisterLabels {
		many[fmt.Sprintf("example.com/l%d", i)] = "v"
	}
	if err := ValidateLabels(many); err != nil {
		t.Errorf("%d good labels refused: %v", MaxRegisterLabels, err)
	}
	for _, ok := range []map[string]string{
		nil,
		{"env": "prod", "team.example.com/owner": "web_team-1.a", "empty": ""},
		{"notredflag.io/x": "y", "redflag.io.example.com/x": "y"}, // only redflag.io and its subdomains are reserved
		{"k": strings.Repeat("v", 63)},
	} {
		if err := ValidateLabels(ok); err != nil {
			t.Errorf("ValidateLabels(%v) = %v, want nil", ok, err)
		}
	}

	tooMany := map[string]string{"one-more": "x"}
	for k, v := range many {
		tooMany[k] = v
	}
	for _, tc := range []struct {
		labels map[string]string
		want   []string // all in the message
	}{
		{tooMany, []string{"33 given", "at most 32"}},
		{map[string]string{"redflag.io/os": "windows"}, []string{`"redflag.io/os"`, "reserved"}},
		{map[string]string{"agents.redflag.io/x": "y"}, []string{`"agents.redflag.io/x"`, "reserved"}},
		{map[string]string{"bad key!": "x"}, []string{`"bad key!"`, "not a valid Kubernetes label key"}},
		{map[string]string{"": "x"}, []string{`label key ""`}},
		{map[string]string{"Example.com/x": "y"}, []string{`"Example.com/x"`}},
		{map[string]string{"env": "has space"}, []string{`env="has space"`, "invalid value"}},
		{map[string]string{"env": strings.Repeat("v", 64)}, []string{"env=", "63"}},
		{map[string]string{"ok": "fine", "zz": "-bad"}, []string{`zz="-bad"`}},
		{map[string]string{"a!": "", "b!": "", "c!": "", "d!": "", "e!": ""}, []string{`"a!"`, `"c!"`, "and 2 more bad labels"}},
	} {
		err := ValidateLabels(tc.labels)
		if err == nil {
			t.Errorf("ValidateLabels(%v) accepted them", tc.labels)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ValidateLabels(%v) = %q, want it to mention %q", tc.labels, err, w)
			}
		}
	}
}

// TestLargestRegisterRequestFits: a host asking for the most and longest
// labels allowed, with every other field at the gateway's bounds, is not
// refused as too large before its labels are even looked at.
func TestLargestRegisterRequestFits(t *testing.T) {
	req := RegisterRequest{
		Token: strings.Repeat("a", 6) + "." + strings.Repeat("b", 32), MachineID: strings.Repeat("m", 128),
		Hostname: strings.Repeat("h", 253), AgentVersion: strings.Repeat("v", 64), PublicKey: strings.Repeat("k", 44),
		OS: OSInfo{
			Family: strings.Repeat("f", 32), Distribution: strings.Repeat("d", 64), Version: strings.Repeat("v", 64),
			PrettyName: strings.Repeat("p", 128), Kernel: strings.Repeat("k", 128), Arch: strings.Repeat("a", 32),
		},
		Labels: map[string]string{},
	}
	for i := range MaxRegisterLabels {
		// A key's longest form: a 253-character prefix, '/', a 63-character name.
		prefix := fmt.Sprintf("p%02d.", i) + strings.Repeat("x", 249)
		name := fmt.Sprintf("n%02d", i) + strings.Repeat("y", 60)
		req.Labels[prefix+"/"+name] = strings.Repeat("z", 63)
	}
	if err := ValidateLabels(req.Labels); err != nil {
		t.Fatalf("the largest labels are not valid ones: %v", err)
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > MaxRegisterBody {
		t.Errorf("the largest register body is %d bytes, over MaxRegisterBody %d", len(body), MaxRegisterBody)
	}
}

package docker

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		in   string
		want []Challenge
	}{
		{
			// Docker Hub's answer to an anonymous manifest HEAD.
			`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"`,
			[]Challenge{{"Bearer", map[string]string{"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/nginx:pull"}}},
		},
		{
			`Basic realm="Registry Realm"`,
			[]Challenge{{"Basic", map[string]string{"realm": "Registry Realm"}}},
		},
		{
			`basic, Bearer Realm = "https://x/t" ,  error=invalid_token`,
			[]Challenge{{"basic", map[string]string{}}, {"Bearer", map[string]string{"realm": "https://x/t", "error": "invalid_token"}}},
		},
		{
			`Bearer realm="a\"b\\c", Basic realm=""`,
			[]Challenge{{"Bearer", map[string]string{"realm": `a"b\c`}}, {"Basic", map[string]string{"realm": ""}}},
		},
		{
			`Bearer ,, realm="x",`,
			[]Challenge{{"Bearer", map[string]string{"realm": "x"}}},
		},
	}
	for _, tt := range tests {
		got, err := ParseChallenges(tt.in)
		if err != nil {
			t.Errorf("ParseChallenges(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseChallenges(%q) =\n %+v, want\n %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseChallengesRejects(t *testing.T) {
	for _, in := range []string{
		"", " , ", "=x", `Basic abc==`, `Basic Bearer`, `Bearer realm="x" scope="y"`,
		`Bearer realm="x", realm="y"`, `Bearer realm="unterminated`, `Bearer realm="a` + "\x01" + `"`,
		`Bearer realm=`, `Bearer realm=@`, `Bearer realm="x\`, "Bearer realm=\"\x7f\"",
	} {
		if got, err := ParseChallenges(in); err == nil {
			t.Errorf("ParseChallenges(%q) = %+v, want an error", in, got)
		} else if !errors.Is(err, ErrBadChallenge) {
			t.Errorf("ParseChallenges(%q): %v does not wrap ErrBadChallenge", in, err)
		}
	}
}

func TestChallengeString(t *testing.T) {
	c := Challenge{"Bearer", map[string]string{"service": "s", "realm": `q"\`}}
	if got, want := c.String(), `Bearer realm="q\"\\", service="s"`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}

package facts

import (
	"maps"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/internal/protocol"
)

func TestParseOSRelease(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"debian", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nID=debian\n",
			map[string]string{"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "VERSION_ID": "12", "ID": "debian"}},
		{"escapes in double quotes", `NAME="a \"b\" \\ \$HOME \` + "`x`" + ` \n"`,
			map[string]string{"NAME": "a \"b\" \\ $HOME `x` \\n"}},
		{"single quotes are literal", `NAME='it\"s'`, map[string]string{"NAME": `it\"s`}},
		{"comments, blanks, junk skipped", "# c\n\n  ID=alpine  \nnot a var\nBAD-KEY=x\n=x\nOPEN=\"unterminated\n",
			map[string]string{"ID": "alpine"}},
		{"empty value", "VARIANT=\n", map[string]string{"VARIANT": ""}},
		{"crlf", "ID=rocky\r\nVERSION_ID=\"9.3\"\r\n", map[string]string{"ID": "rocky", "VERSION_ID": "9.3"}},
		{"last wins", "ID=a\nID=b\n", map[string]string{"ID": "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOSRelease(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOSInfoDefaultsAndLimits(t *testing.T) {
	if got := osInfo(nil); got != (protocol.OSInfo{Distribution: "linux", PrettyName: "Linux"}) {
		t.Errorf("defaults: %+v", got)
	}
	got := osInfo(map[string]string{"PRETTY_NAME": strings.Repeat("é", 100), "ID": strings.Repeat("x", 70)})
	if len(got.PrettyName) > 128 || len(got.Distribution) != 64 || !strings.HasSuffix(got.PrettyName, "é") {
		t.Errorf("not clipped to the CRD limits on a rune boundary: %q %q", got.PrettyName, got.Distribution)
	}
}

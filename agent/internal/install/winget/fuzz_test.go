package winget

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzInterpret(f *testing.F) {
	f.Add(0, []byte("Successfully installed"))
	f.Add(int(uint32(0x8A150006)), []byte("Installer failed\r\x1b[0Gwith exit code: 1603\r\n\x1b[1;"))
	f.Fuzz(func(t *testing.T, code int, out []byte) {
		_, err := Interpret(code, out)
		if err != nil && (len(err.Error()) > 1200 || !utf8.ValidString(err.Error()) || strings.ContainsAny(err.Error(), "\r\n\x1b")) {
			t.Fatalf("error not fit for a status message: %q", err)
		}
	})
}

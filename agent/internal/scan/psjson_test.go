package scan

import (
	"encoding/base64"
	"slices"
	"testing"
	"unicode/utf16"
)

func TestDecodePSArray(t *testing.T) {
	type item struct{ Name string }
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  \r\n", nil},
		{"null", nil},
		{"\uFEFF[]", nil},
		{`[{"Name":"a"},{"Name":"b"}]`, []string{"a", "b"}},
		{`{"Name":"solo"}`, []string{"solo"}},
		{`{"value":[{"Name":"a"},{"Name":"b"}],"Count":2}`, []string{"a", "b"}},
		{`{"value":{"Name":"a"},"Count":1}`, []string{"a"}},
	}
	for _, tt := range tests {
		got, err := DecodePSArray[item]([]byte(tt.in))
		if err != nil {
			t.Errorf("DecodePSArray(%q): %v", tt.in, err)
			continue
		}
		var names []string
		for _, g := range got {
			names = append(names, g.Name)
		}
		if !slices.Equal(names, tt.want) {
			t.Errorf("DecodePSArray(%q) = %v, want %v", tt.in, names, tt.want)
		}
	}
	for _, bad := range []string{"[", "{", `"x"`, "[1,2]"} {
		if _, err := DecodePSArray[item]([]byte(bad)); err == nil {
			t.Errorf("DecodePSArray(%q) accepted", bad)
		}
	}
}

func TestPSStrings(t *testing.T) {
	tests := []struct {
		in   string
		want PSStrings
	}{
		{`["5034441","890830"]`, PSStrings{"5034441", "890830"}},
		{`"5034441"`, PSStrings{"5034441"}},
		{`5034441`, PSStrings{"5034441"}},
		{`null`, PSStrings{}},
		{`[]`, PSStrings{}},
		{`{"value":["1.2","1.1"],"Count":2}`, PSStrings{"1.2", "1.1"}},
	}
	for _, tt := range tests {
		var got PSStrings
		if err := got.UnmarshalJSON([]byte(tt.in)); err != nil {
			t.Errorf("PSStrings(%s): %v", tt.in, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("PSStrings(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var s PSStrings
	if err := s.UnmarshalJSON([]byte(`{"a":1}`)); err == nil {
		t.Error("PSStrings accepted an object")
	}
}

func TestEncodePowerShell(t *testing.T) {
	raw, err := base64.StdEncoding.DecodeString(EncodePowerShell("Write-Output 'é🦆'"))
	if err != nil {
		t.Fatal(err)
	}
	units := make([]uint16, len(raw)/2)
	for i := range units {
		units[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
	}
	if got := string(utf16.Decode(units)); got != "Write-Output 'é🦆'" {
		t.Fatalf("round trip = %q", got)
	}
	c := PowerShellCommand("exit 3", 3)
	if c.Path != "powershell.exe" || c.Args[len(c.Args)-2] != "-EncodedCommand" || !slices.Equal(c.OKExit, []int{3}) {
		t.Fatalf("PowerShellCommand = %+v", c)
	}
}

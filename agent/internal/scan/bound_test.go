package scan

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/redflag-io/redflag/internal/protocol"
)

func TestClean(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"short", "openssl", 128, "openssl"},
		{"trim", "  openssl \t", 128, "openssl"},
		{"exact", "abcd", 4, "abcd"},
		{"cut ascii", "abcdef", 4, "abcd"},
		{"cut before 2-byte rune", "abcé", 4, "abc"},
		{"keep 2-byte rune", "abé", 4, "abé"},
		{"cut before 3-byte rune", "ab…", 4, "ab"},
		{"cut before 4-byte rune", "a🦆", 4, "a"},
		{"invalid utf8 replaced", "a\xffb", 10, "a\uFFFDb"},
		{"invalid utf8 then cut", "ab\xff", 3, "ab"},
		{"control dropped", "a\x1b[0mb\rc", 10, "a[0mbc"},
		{"cut leaves no trailing space", "ab cd", 3, "ab"},
		{"zero max", "abc", 0, ""},
		{"negative max", "abc", -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Clean(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("Clean(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
			if tt.max > 0 && len(got) > tt.max {
				t.Errorf("Clean(%q, %d) is %d bytes", tt.in, tt.max, len(got))
			}
			if !utf8.ValidString(got) {
				t.Errorf("Clean(%q, %d) = %q is not valid UTF-8", tt.in, tt.max, got)
			}
		})
	}
}

func TestBoundAndCheck(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	u := Bound(protocol.PendingUpdate{
		Manager:          protocol.ManagerApt,
		Name:             long,
		CurrentVersion:   long,
		AvailableVersion: long,
		Source:           long,
	})
	if len(u.Name) != 128 || len(u.CurrentVersion) != 80 || len(u.AvailableVersion) != 80 || len(u.Source) != 80 {
		t.Fatalf("Bound lengths = %d %d %d %d", len(u.Name), len(u.CurrentVersion), len(u.AvailableVersion), len(u.Source))
	}
	if err := Check(u); err != nil {
		t.Fatalf("Check(Bound(...)) = %v", err)
	}

	bad := []protocol.PendingUpdate{
		{Manager: "rpm", Name: "x"},
		{Manager: protocol.ManagerApt},
		{Manager: protocol.ManagerApt, Name: long},
		{Manager: protocol.ManagerApt, Name: "x", Source: "\xff"},
		{Manager: protocol.ManagerApt, Name: "x\ny"},
		{Manager: protocol.ManagerApt, Name: " x"},
	}
	for _, b := range bad {
		if err := Check(b); !errors.Is(err, ErrInvalidUpdate) {
			t.Errorf("Check(%+v) = %v, want ErrInvalidUpdate", b, err)
		}
	}
}

func TestList(t *testing.T) {
	var l List
	if !l.Add(protocol.PendingUpdate{Manager: protocol.ManagerApt, Name: "libc6", AvailableVersion: "2"}) {
		t.Fatal("first add not kept")
	}
	if l.Add(protocol.PendingUpdate{Manager: protocol.ManagerApt, Name: "libc6", AvailableVersion: "3", Security: true}) {
		t.Fatal("duplicate kept")
	}
	if l.Add(protocol.PendingUpdate{Manager: protocol.ManagerApt, Name: " \x00 "}) {
		t.Fatal("empty name kept")
	}
	l.Add(protocol.PendingUpdate{Manager: protocol.ManagerApt, Name: "bash"})
	got := l.Items()
	if len(got) != 2 || got[0].Name != "libc6" || !got[0].Security || got[0].AvailableVersion != "2" || got[1].Name != "bash" {
		t.Fatalf("Items() = %+v", got)
	}
}

func TestProblems(t *testing.T) {
	var p Problems
	if p.Err() != nil {
		t.Fatal("empty Problems has an error")
	}
	for i := 1; i <= 5; i++ {
		p.Add(i, "junk", "no version")
	}
	err := p.Err()
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("Err() = %v, want ErrMalformed", err)
	}
	if !strings.Contains(err.Error(), "5 unreadable") || !strings.Contains(err.Error(), "and 2 more") {
		t.Fatalf("Err() = %v", err)
	}
}

func TestLines(t *testing.T) {
	var got []string
	err := Lines(strings.NewReader("\uFEFFa\r\nb\n\nc"), func(n int, line string) error {
		got = append(got, line)
		return nil
	})
	if err != nil || strings.Join(got, "|") != "a|b||c" {
		t.Fatalf("Lines = %q, %v", got, err)
	}
	err = Lines(strings.NewReader(strings.Repeat("x", MaxLineLen+1)), func(int, string) error { return nil })
	if err == nil {
		t.Fatal("over-long line accepted")
	}
	stop := errors.New("stop")
	if err := Lines(strings.NewReader("a\nb"), func(int, string) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("Lines did not return fn's error: %v", err)
	}
}

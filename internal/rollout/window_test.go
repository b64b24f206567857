package rollout

import (
	"testing"
	"time"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

func TestWindowOpen(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	nightly := &redflagv1.MaintenanceWindow{Start: "02:00", End: "04:00", TimeZone: "Europe/Berlin"}
	overnight := &redflagv1.MaintenanceWindow{Start: "22:00", End: "02:00", TimeZone: "Europe/Berlin", Days: []redflagv1.Weekday{"Saturday"}}
	cases := []struct {
		name       string
		spec       *redflagv1.MaintenanceWindow
		now        time.Time
		open       bool
		closes     time.Time
		nextOpen   time.Time
		wantLength time.Duration // closes - opening, checked when open
	}{
		{name: "inside an ordinary night", spec: nightly, now: at("2026-03-10 03:00"), open: true, closes: at("2026-03-10 04:00")},
		{name: "before it opens", spec: nightly, now: at("2026-03-10 01:59"), nextOpen: at("2026-03-10 02:00")},
		{name: "after it closes", spec: nightly, now: at("2026-03-10 04:00"), nextOpen: at("2026-03-11 02:00")},
		// 2026-03-29: clocks go from 02:00 to 03:00 in Berlin; the window
		// opens at 03:00 CEST (the normalised 02:00) and is one hour long.
		{name: "spring forward night", spec: nightly, now: at("2026-03-29 03:30"), open: true, closes: at("2026-03-29 04:00")},
		{name: "spring forward opening", spec: nightly, now: at("2026-03-29 01:30"), nextOpen: time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)},
		// 2026-10-25: clocks go from 03:00 back to 02:00: three hours long.
		{name: "fall back night", spec: nightly, now: time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), open: true, closes: time.Date(2026, 10, 25, 3, 0, 0, 0, time.UTC)},
		{name: "overnight on its day", spec: overnight, now: at("2026-11-28 23:00"), open: true, closes: at("2026-11-29 02:00")},
		{name: "overnight spill past midnight", spec: overnight, now: at("2026-11-29 01:00"), open: true, closes: at("2026-11-29 02:00")},
		{name: "overnight not on other days", spec: overnight, now: at("2026-11-27 23:00"), nextOpen: at("2026-11-28 22:00")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := ParseWindow(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			open, closes, opens := w.Open(tc.now)
			if open != tc.open {
				t.Fatalf("open = %v, want %v", open, tc.open)
			}
			if tc.open && !closes.Equal(tc.closes) {
				t.Errorf("closes %s, want %s", closes, tc.closes)
			}
			if !tc.open && !opens.Equal(tc.nextOpen) {
				t.Errorf("next opening %s, want %s", opens.UTC(), tc.nextOpen.UTC())
			}
		})
	}
}

func TestNilWindowAlwaysOpen(t *testing.T) {
	w, err := ParseWindow(nil)
	if err != nil {
		t.Fatal(err)
	}
	if open, _, _ := w.Open(time.Now()); !open {
		t.Fatal("no window must mean any time")
	}
}

func TestParseWindowRejectsUnknownZone(t *testing.T) {
	if _, err := ParseWindow(&redflagv1.MaintenanceWindow{Start: "01:00", End: "02:00", TimeZone: "Mars/Olympus"}); err == nil {
		t.Fatal("an unknown time zone must be an error")
	}
}

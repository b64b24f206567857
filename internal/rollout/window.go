package rollout

import (
	"fmt"
	"time"

	redflagv1 "github.com/redflag-io/redflag/api/v1alpha1"
)

// Window is a parsed maintenance window.
type Window struct {
	days       map[time.Weekday]bool // empty: every day
	start, end int                   // minutes after local midnight
	loc        *time.Location
}

// ParseWindow checks a window spec; nil means "any time".
func ParseWindow(w *redflagv1.MaintenanceWindow) (*Window, error) {
	if w == nil {
		return nil, nil
	}
	tz := w.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("spec.window.timeZone %q: %w", tz, err)
	}
	start, err := clockMinutes(w.Start)
	if err != nil {
		return nil, fmt.Errorf("spec.window.start: %w", err)
	}
	end, err := clockMinutes(w.End)
	if err != nil {
		return nil, fmt.Errorf("spec.window.end: %w", err)
	}
	pw := &Window{days: map[time.Weekday]bool{}, start: start, end: end, loc: loc}
	for _, d := range w.Days {
		wd, ok := weekdays[d]
		if !ok {
			return nil, fmt.Errorf("spec.window.days: %q is not a weekday", d)
		}
		pw.days[wd] = true
	}
	return pw, nil
}

var weekdays = map[redflagv1.Weekday]time.Weekday{
	"Sunday": time.Sunday, "Monday": time.Monday, "Tuesday": time.Tuesday, "Wednesday": time.Wednesday,
	"Thursday": time.Thursday, "Friday": time.Friday, "Saturday": time.Saturday,
}

func clockMinutes(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not HH:MM: %w", s, err)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Open reports whether the window is open at now and, if so, when this
// opening closes; if not, when it next opens. A nil window is always open.
//
// Openings are built with time.Date in the window's zone for each calendar
// day, so a 02:00-04:00 window is two hours long on ordinary days, one hour
// on the spring-forward night (02:xx does not exist and Go normalises it
// forward) and three on the fall-back night: the wall clock rules, as an
// operator reading "02:00 to 04:00" expects.
func (w *Window) Open(now time.Time) (open bool, closes, opens time.Time) {
	if w == nil {
		return true, time.Time{}, time.Time{}
	}
	local := now.In(w.loc)
	y, m, d := local.Date()
	// An opening that started yesterday may still run past midnight; look
	// one day back and eight ahead (a week plus the overnight spill).
	for i := -1; i <= 8; i++ {
		day := time.Date(y, m, d+i, 0, 0, 0, 0, w.loc)
		if len(w.days) > 0 && !w.days[day.Weekday()] {
			continue
		}
		from := at(day, w.start, w.loc)
		endDay := day
		if w.end <= w.start {
			endDay = day.AddDate(0, 0, 1)
		}
		to := at(endDay, w.end, w.loc)
		if !now.Before(from) && now.Before(to) {
			return true, to, time.Time{}
		}
		if now.Before(from) {
			return false, time.Time{}, from
		}
	}
	return false, time.Time{}, time.Time{}
}

func at(day time.Time, minutes int, loc *time.Location) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d, minutes/60, minutes%60, 0, 0, loc)
}

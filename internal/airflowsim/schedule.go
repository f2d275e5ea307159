package airflowsim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a DAG's schedule: a cron expression, a fixed interval (a
// Python timedelta), or neither (schedule=None, external triggers only).
// The zero value is None.
type Schedule struct {
	// Cron is a five-field cron expression or a preset like "@daily".
	Cron string
	// Every is a timedelta schedule; used when Cron is empty.
	Every time.Duration
}

// Cron returns a cron schedule, like schedule="0 * * * *".
func Cron(expr string) Schedule { return Schedule{Cron: expr} }

// Every returns a timedelta schedule, like schedule=timedelta(hours=1).
func Every(d time.Duration) Schedule { return Schedule{Every: d} }

// IsNone reports whether the schedule is None.
func (s Schedule) IsNone() bool { return s.Cron == "" && s.Every <= 0 }

// summary is the timetable summary Airflow shows: the cron expression,
// str(timedelta) such as "1:00:00", or nil for None (Airflow 3 renders the
// string "None" as null).
func (s Schedule) summary() *string {
	switch {
	case s.Cron != "":
		return ptr(s.Cron)
	case s.Every > 0:
		return ptr(pyTimedelta(s.Every))
	}
	return nil
}

// description is the timetable description Airflow stores: cron_descriptor's
// wording for cron, empty for a timedelta, and NullTimetable's text for None.
func (s Schedule) description() string {
	switch {
	case s.Cron != "":
		return describeCron(s.Cron)
	case s.Every > 0:
		return ""
	}
	return "Never, external triggers only"
}

// v1Interval is the v1 ScheduleInterval object.
func (s Schedule) v1Interval() any {
	switch {
	case s.Cron != "":
		return map[string]any{"__type": "CronExpression", "value": s.Cron}
	case s.Every > 0:
		return timedeltaObject(s.Every)
	}
	return nil
}

// timedeltaObject is the TimeDelta object both APIs use.
func timedeltaObject(d time.Duration) map[string]any {
	days := int(d / (24 * time.Hour))
	rest := d - time.Duration(days)*24*time.Hour
	secs := int(rest / time.Second)
	micros := int((rest - time.Duration(secs)*time.Second) / time.Microsecond)
	return map[string]any{"__type": "TimeDelta", "days": days, "seconds": secs, "microseconds": micros}
}

// pyTimedelta is Python's str(timedelta) for a positive duration.
func pyTimedelta(d time.Duration) string {
	days := int(d / (24 * time.Hour))
	d -= time.Duration(days) * 24 * time.Hour
	h := int(d / time.Hour)
	d -= time.Duration(h) * time.Hour
	m := int(d / time.Minute)
	d -= time.Duration(m) * time.Minute
	sec := int(d / time.Second)
	d -= time.Duration(sec) * time.Second
	out := fmt.Sprintf("%d:%02d:%02d", h, m, sec)
	if us := int(d / time.Microsecond); us != 0 {
		out += fmt.Sprintf(".%06d", us)
	}
	switch days {
	case 0:
		return out
	case 1:
		return "1 day, " + out
	}
	return fmt.Sprintf("%d days, %s", days, out)
}

// prevTick returns the latest schedule tick at or before t.
func (s Schedule) prevTick(t time.Time, start time.Time) (time.Time, bool) {
	if s.Cron != "" {
		c, ok := parseCron(s.Cron)
		if !ok {
			return time.Time{}, false
		}
		return c.prev(t)
	}
	if s.Every <= 0 || t.Before(start) {
		return time.Time{}, false
	}
	n := t.Sub(start) / s.Every
	return start.Add(n * s.Every), true
}

// nextTick returns the first tick strictly after t.
func (s Schedule) nextTick(t time.Time, start time.Time) (time.Time, bool) {
	if s.Cron != "" {
		c, ok := parseCron(s.Cron)
		if !ok {
			return time.Time{}, false
		}
		return c.next(t)
	}
	if s.Every <= 0 {
		return time.Time{}, false
	}
	if t.Before(start) {
		return start, true
	}
	n := t.Sub(start)/s.Every + 1
	return start.Add(n * s.Every), true
}

var cronPresets = map[string]string{
	"@hourly":   "0 * * * *",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@weekly":   "0 0 * * 0",
	"@monthly":  "0 0 1 * *",
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
}

// cronSpec is a parsed five-field cron expression, evaluated in UTC.
type cronSpec struct {
	minute, hour, dom, month, dow [60]bool
	domStar, dowStar              bool
}

func parseCron(expr string) (*cronSpec, bool) {
	if p, ok := cronPresets[expr]; ok {
		expr = p
	}
	f := strings.Fields(expr)
	if len(f) != 5 {
		return nil, false
	}
	var c cronSpec
	ok := parseCronField(f[0], 0, 59, &c.minute) &&
		parseCronField(f[1], 0, 23, &c.hour) &&
		parseCronField(f[2], 1, 31, &c.dom) &&
		parseCronField(f[3], 1, 12, &c.month) &&
		parseCronField(f[4], 0, 7, &c.dow)
	if !ok {
		return nil, false
	}
	if c.dow[7] {
		c.dow[0] = true
	}
	c.domStar, c.dowStar = f[2] == "*", f[4] == "*"
	return &c, true
}

func parseCronField(field string, lo, hi int, set *[60]bool) bool {
	for _, part := range strings.Split(field, ",") {
		step := 1
		if rng, st, found := strings.Cut(part, "/"); found {
			n, err := strconv.Atoi(st)
			if err != nil || n <= 0 {
				return false
			}
			part, step = rng, n
		}
		from, to := lo, hi
		if part != "*" {
			a, b, isRange := strings.Cut(part, "-")
			var err error
			if from, err = strconv.Atoi(a); err != nil {
				return false
			}
			to = from
			if isRange {
				if to, err = strconv.Atoi(b); err != nil {
					return false
				}
			}
		}
		if from < lo || to > hi || from > to {
			return false
		}
		for v := from; v <= to; v += step {
			set[v] = true
		}
	}
	return true
}

func (c *cronSpec) matches(t time.Time) bool {
	if !c.minute[t.Minute()] || !c.hour[t.Hour()] || !c.month[int(t.Month())] {
		return false
	}
	dom, dow := c.dom[t.Day()], c.dow[int(t.Weekday())]
	switch {
	case c.domStar && c.dowStar:
		return true
	case c.domStar:
		return dow
	case c.dowStar:
		return dom
	}
	return dom || dow // cron ORs the two day fields when both are restricted
}

// cronSearchLimit bounds the minute-by-minute search: a little over a year.
const cronSearchLimit = 367 * 24 * 60

func (c *cronSpec) prev(t time.Time) (time.Time, bool) {
	t = t.UTC().Truncate(time.Minute)
	for range cronSearchLimit {
		if c.matches(t) {
			return t, true
		}
		t = t.Add(-time.Minute)
	}
	return time.Time{}, false
}

func (c *cronSpec) next(t time.Time) (time.Time, bool) {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	for range cronSearchLimit {
		if c.matches(t) {
			return t, true
		}
		t = t.Add(time.Minute)
	}
	return time.Time{}, false
}

// describeCron words the common shapes the way cron_descriptor (which
// Airflow uses) does, and falls back to the expression itself.
func describeCron(expr string) string {
	f := strings.Fields(expr)
	if len(f) != 5 || f[2] != "*" || f[3] != "*" || f[4] != "*" {
		return expr
	}
	m, errM := strconv.Atoi(f[0])
	if errM != nil {
		return expr
	}
	if f[1] == "*" {
		return fmt.Sprintf("At %d minutes past the hour", m)
	}
	h, errH := strconv.Atoi(f[1])
	if errH != nil {
		return expr
	}
	return fmt.Sprintf("At %02d:%02d", h, m)
}

func ptr[T any](v T) *T { return &v }

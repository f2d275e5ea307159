package tokens

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Schedule is a DAG's schedule as far as token lifetimes care: whether it
// runs on a time-based schedule and the shortest time between two runs.
type Schedule struct {
	// Scheduled is false for DAGs that Airflow does not run on a clock:
	// schedule None, @once, @continuous, asset- or dataset-triggered.
	Scheduled bool
	// Interval is the shortest time between two consecutive scheduled
	// runs; zero when not Scheduled.
	Interval time.Duration
	// Expr names the schedule, e.g. "cron 0 * * * *", "timedelta 1:00:00",
	// "none".
	Expr string
}

// ErrSchedule is wrapped by the errors of ParseSchedule for a schedule it
// does not understand. Callers treat such a DAG as unscheduled.
var ErrSchedule = errors.New("tokens: unrecognized schedule")

// ParseSchedule reads a schedule as Airflow's REST API reports it:
//
//   - v1 (Airflow 2) schedule_interval: null, or an object discriminated by
//     __type: {"__type":"CronExpression","value":"0 * * * *"},
//     {"__type":"TimeDelta","days":0,"seconds":3600,"microseconds":0}, or
//     {"__type":"RelativeDelta","months":1,...};
//   - v2 (Airflow 3) timetable_summary: null, or a string such as
//     "0 * * * *", "@hourly", "1:00:00", "1 day, 0:00:00", "None",
//     "@once", "@continuous".
//
// Cron intervals are the shortest gap between consecutive fire times,
// computed in UTC over two years from 2024-01-01 (a leap year); a DAG's own
// time zone can make a gap across a daylight-saving change an hour shorter.
// Relative deltas count a month as 28 days and a year as 365. Anything else
// is an error wrapping ErrSchedule.
func ParseSchedule(raw json.RawMessage) (Schedule, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return Schedule{Expr: "none"}, nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Schedule{}, fmt.Errorf("%w: %v", ErrSchedule, err)
		}
		return parseSummary(s)
	case '{':
		return parseInterval(raw)
	}
	return Schedule{}, fmt.Errorf("%w: neither null, a string nor an object", ErrSchedule)
}

// parseInterval reads a v1 ScheduleInterval object.
func parseInterval(raw json.RawMessage) (Schedule, error) {
	var v struct {
		Type         string   `json:"__type"`
		Value        string   `json:"value"`
		Years        *float64 `json:"years"`
		Months       *float64 `json:"months"`
		Days         *float64 `json:"days"`
		Leapdays     *float64 `json:"leapdays"`
		Hours        *float64 `json:"hours"`
		Minutes      *float64 `json:"minutes"`
		Seconds      *float64 `json:"seconds"`
		Microseconds *float64 `json:"microseconds"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return Schedule{}, fmt.Errorf("%w: %v", ErrSchedule, err)
	}
	f := func(p *float64) float64 {
		if p == nil {
			return 0
		}
		return *p
	}
	day := 24 * time.Hour
	switch v.Type {
	case "CronExpression":
		return parseSummary(v.Value)
	case "TimeDelta":
		d := durationOf(f(v.Days)*float64(day) + f(v.Seconds)*float64(time.Second) + f(v.Microseconds)*float64(time.Microsecond))
		if d <= 0 {
			return Schedule{}, fmt.Errorf("%w: a time delta that is not positive", ErrSchedule)
		}
		return Schedule{Scheduled: true, Interval: d, Expr: "timedelta " + d.String()}, nil
	case "RelativeDelta":
		d := durationOf(f(v.Years)*365*float64(day) + f(v.Months)*28*float64(day) + f(v.Days)*float64(day) +
			f(v.Hours)*float64(time.Hour) + f(v.Minutes)*float64(time.Minute) + f(v.Seconds)*float64(time.Second) +
			f(v.Microseconds)*float64(time.Microsecond))
		if d <= 0 {
			return Schedule{}, fmt.Errorf("%w: a relative delta without a positive relative part", ErrSchedule)
		}
		return Schedule{Scheduled: true, Interval: d, Expr: "relativedelta " + d.String()}, nil
	}
	return Schedule{}, fmt.Errorf("%w: __type %q", ErrSchedule, truncate(v.Type, 40))
}

// durationOf converts nanoseconds held in a float, refusing what does not
// fit.
func durationOf(ns float64) time.Duration {
	if ns != ns || ns <= 0 || ns > float64(100*365*24*time.Hour) {
		return 0
	}
	return time.Duration(ns)
}

// presets are Airflow's cron presets (airflow/utils/dates.py
// cron_presets) and croniter's @midnight.
var presets = map[string]string{
	"@hourly":    "0 * * * *",
	"@daily":     "0 0 * * *",
	"@midnight":  "0 0 * * *",
	"@weekly":    "0 0 * * 0",
	"@monthly":   "0 0 1 * *",
	"@quarterly": "0 0 1 */3 *",
	"@yearly":    "0 0 1 1 *",
	"@annually":  "0 0 1 1 *",
}

// timedeltaRE matches Python's str(timedelta): "1:00:00", "1 day,
// 0:00:00", "2 days, 3:04:05.000006".
var timedeltaRE = regexp.MustCompile(`^(?:(\d+) days?, )?(\d+):([0-5]\d):([0-5]\d)(?:\.(\d{6}))?$`)

// parseSummary reads a v2 timetable_summary or a v1 cron value.
func parseSummary(s string) (Schedule, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "None", "null":
		return Schedule{Expr: "none"}, nil
	case "@once", "@continuous":
		return Schedule{Expr: s}, nil
	}
	if expr, ok := presets[strings.ToLower(s)]; ok {
		d, err := cronInterval(expr)
		if err != nil {
			return Schedule{}, err
		}
		return Schedule{Scheduled: true, Interval: d, Expr: "preset " + s}, nil
	}
	if m := timedeltaRE.FindStringSubmatch(s); m != nil {
		atoi := func(x string) int64 { n, _ := strconv.ParseInt(x, 10, 64); return n }
		if len(m[1]) > 5 || len(m[2]) > 6 {
			return Schedule{}, fmt.Errorf("%w: time delta too large", ErrSchedule)
		}
		d := time.Duration(atoi(m[1]))*24*time.Hour + time.Duration(atoi(m[2]))*time.Hour +
			time.Duration(atoi(m[3]))*time.Minute + time.Duration(atoi(m[4]))*time.Second
		if m[5] != "" {
			d += time.Duration(atoi(m[5])) * time.Microsecond
		}
		if d <= 0 {
			return Schedule{}, fmt.Errorf("%w: a time delta that is not positive", ErrSchedule)
		}
		return Schedule{Scheduled: true, Interval: d, Expr: "timedelta " + s}, nil
	}
	if len(strings.Fields(s)) == 5 {
		d, err := cronInterval(s)
		if err != nil {
			return Schedule{}, err
		}
		return Schedule{Scheduled: true, Interval: d, Expr: "cron " + s}, nil
	}
	return Schedule{}, fmt.Errorf("%w: %q", ErrSchedule, truncate(s, 80))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// cronWindowStart and cronWindow bound the search for the shortest gap
// between fire times: two years from the start of a leap year, so that
// yearly, monthly and leap-day patterns show their gaps.
var (
	cronWindowStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cronWindow      = 2 * 366 * 24 * time.Hour
)

// maxCronFires bounds the fire times one computation visits.
const maxCronFires = 200_000

// cronCache memoizes cronInterval by expression.
var cronCache struct {
	mu sync.Mutex // guards m
	m  map[string]time.Duration
}

const maxCronCache = 1024

// cronInterval returns the shortest gap between consecutive fire times of
// a five-field cron expression. A schedule that fires at most once in the
// window gets the window's length.
func cronInterval(expr string) (time.Duration, error) {
	cronCache.mu.Lock()
	if d, ok := cronCache.m[expr]; ok {
		cronCache.mu.Unlock()
		return d, nil
	}
	cronCache.mu.Unlock()
	c, err := parseCron(expr)
	if err != nil {
		return 0, err
	}
	d := c.shortestGap(cronWindowStart, cronWindow)
	cronCache.mu.Lock()
	if cronCache.m == nil || len(cronCache.m) >= maxCronCache {
		cronCache.m = map[string]time.Duration{}
	}
	cronCache.m[expr] = d
	cronCache.mu.Unlock()
	return d, nil
}

// cron is a parsed five-field cron expression (minute hour day-of-month
// month day-of-week), with croniter's semantics: when both day fields are
// restricted a day matches either; names for months and weekdays; 7 is
// Sunday.
type cron struct {
	minute, hour, dom, month, dow uint64
	domStar, dowStar              bool
}

type cronField struct {
	name     string
	min, max int
	names    []string // index + min is the value
}

var cronFields = [5]cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day of week", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

func parseCron(expr string) (*cron, error) {
	parts := strings.Fields(expr)
	if len(parts) != 5 {
		return nil, fmt.Errorf("%w: cron %q does not have five fields", ErrSchedule, truncate(expr, 80))
	}
	var sets [5]uint64
	var stars [5]bool
	for i, p := range parts {
		set, star, err := cronFields[i].parse(p)
		if err != nil {
			return nil, fmt.Errorf("%w: cron %q: %s: %v", ErrSchedule, truncate(expr, 80), cronFields[i].name, err)
		}
		sets[i], stars[i] = set, star
	}
	if sets[4]&(1<<7) != 0 {
		sets[4] = sets[4]&^(1<<7) | 1 // 7 is Sunday
	}
	return &cron{minute: sets[0], hour: sets[1], dom: sets[2], month: sets[3], dow: sets[4], domStar: stars[2], dowStar: stars[4]}, nil
}

// parse reads one field: a comma list of "*", "?", "N", "A-B", each
// optionally followed by "/STEP" ("N/STEP" runs from N to the maximum).
func (f cronField) parse(s string) (set uint64, star bool, err error) {
	if s == "*" || s == "?" {
		star = true
	}
	for _, part := range strings.Split(s, ",") {
		rng, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 || n > f.max+1 {
				return 0, false, fmt.Errorf("bad step %q", truncate(stepStr, 10))
			}
			step = n
		}
		lo, hi := f.min, f.max
		switch {
		case rng == "*" || rng == "?":
			if f.name == "day of week" {
				hi = 6
			}
		default:
			a, b, isRange := strings.Cut(rng, "-")
			if lo, err = f.value(a); err != nil {
				return 0, false, err
			}
			hi = lo
			if isRange {
				if hi, err = f.value(b); err != nil {
					return 0, false, err
				}
			} else if hasStep {
				hi = f.max
			}
			if hi < lo {
				return 0, false, fmt.Errorf("range %q runs backwards", truncate(rng, 20))
			}
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << uint(v)
		}
	}
	if set == 0 {
		return 0, false, errors.New("selects nothing")
	}
	return set, star, nil
}

func (f cronField) value(s string) (int, error) {
	for i, n := range f.names {
		if strings.EqualFold(s, n) {
			return i + f.min, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < f.min || v > f.max {
		return 0, fmt.Errorf("%q is not between %d and %d", truncate(s, 20), f.min, f.max)
	}
	return v, nil
}

func has(set uint64, v int) bool { return set&(1<<uint(v)) != 0 }

func (c *cron) dayMatches(t time.Time) bool {
	dom, dow := has(c.dom, t.Day()), has(c.dow, int(t.Weekday()))
	if c.domStar || c.dowStar {
		return dom && dow
	}
	return dom || dow
}

// next returns the first fire time strictly after t (UTC, whole minutes),
// or false when there is none within five years.
func (c *cron) next(t time.Time) (time.Time, bool) {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	limit := t.Year() + 5
wrap:
	if t.Year() > limit {
		return time.Time{}, false
	}
	for !has(c.month, int(t.Month())) {
		t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		if t.Month() == time.January {
			goto wrap
		}
	}
	for !c.dayMatches(t) {
		t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
		if t.Day() == 1 {
			goto wrap
		}
	}
	for !has(c.hour, t.Hour()) {
		t = t.Truncate(time.Hour).Add(time.Hour)
		if t.Hour() == 0 {
			goto wrap
		}
	}
	for !has(c.minute, t.Minute()) {
		t = t.Add(time.Minute)
		if t.Minute() == 0 {
			goto wrap
		}
	}
	return t, true
}

// minuteBound is a lower bound on any gap between fire times: the
// smallest cyclic distance between two selected minutes (60 when one is).
func (c *cron) minuteBound() time.Duration {
	if bits.OnesCount64(c.minute) <= 1 {
		return time.Hour
	}
	best, first, prev := 60, -1, -1
	for m := 0; m < 60; m++ {
		if !has(c.minute, m) {
			continue
		}
		if first < 0 {
			first = m
		} else if m-prev < best {
			best = m - prev
		}
		prev = m
	}
	if w := first + 60 - prev; w < best {
		best = w
	}
	return time.Duration(best) * time.Minute
}

// shortestGap returns the shortest time between consecutive fire times in
// [from, from+window), or window when there are fewer than two.
func (c *cron) shortestGap(from time.Time, window time.Duration) time.Duration {
	end := from.Add(window)
	bound := c.minuteBound()
	best := window
	prev, ok := c.next(from.Add(-time.Minute))
	for n := 0; ok && n < maxCronFires; n++ {
		t, more := c.next(prev)
		if !more || !t.Before(end) {
			break
		}
		if g := t.Sub(prev); g < best {
			best = g
			if best <= bound {
				break
			}
		}
		prev = t
	}
	return best
}

package tokens

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name      string
		raw       string
		scheduled bool
		interval  time.Duration
		wantErr   bool
	}{
		// Airflow 2, v1 schedule_interval.
		{"v1 none", `null`, false, 0, false},
		{"v1 cron hourly", `{"__type":"CronExpression","value":"0 * * * *"}`, true, time.Hour, false},
		{"v1 cron preset", `{"__type":"CronExpression","value":"@daily"}`, true, day, false},
		{"v1 timedelta", `{"__type":"TimeDelta","days":0,"seconds":3600,"microseconds":0}`, true, time.Hour, false},
		{"v1 timedelta days", `{"__type":"TimeDelta","days":1,"seconds":1800,"microseconds":5}`, true, day + 30*time.Minute + 5*time.Microsecond, false},
		{"v1 relativedelta month", `{"__type":"RelativeDelta","years":0,"months":1,"days":0,"leapdays":0,"hours":0,"minutes":0,"seconds":0,"microseconds":0,"year":null,"month":null,"day":null,"weekday":null,"hour":null,"minute":null,"second":null,"microsecond":null}`, true, 28 * day, false},
		{"v1 relativedelta hours", `{"__type":"RelativeDelta","hours":6}`, true, 6 * time.Hour, false},
		{"v1 relativedelta absolute only", `{"__type":"RelativeDelta","weekday":[0,null]}`, false, 0, true},
		{"v1 timedelta zero", `{"__type":"TimeDelta","days":0,"seconds":0,"microseconds":0}`, false, 0, true},
		{"v1 unknown type", `{"__type":"Mystery"}`, false, 0, true},
		// Airflow 3, v2 timetable_summary.
		{"v2 null", `null`, false, 0, false},
		{"v2 None", `"None"`, false, 0, false},
		{"v2 once", `"@once"`, false, 0, false},
		{"v2 continuous", `"@continuous"`, false, 0, false},
		{"v2 cron", `"0 * * * *"`, true, time.Hour, false},
		{"v2 hourly", `"@hourly"`, true, time.Hour, false},
		{"v2 daily", `"@daily"`, true, day, false},
		{"v2 weekly", `"@weekly"`, true, 7 * day, false},
		{"v2 monthly", `"@monthly"`, true, 28 * day, false},
		{"v2 quarterly", `"@quarterly"`, true, 90 * day, false}, // Jan..Apr 2025: 90 days
		{"v2 yearly", `"@yearly"`, true, 365 * day, false},
		{"v2 timedelta", `"1:00:00"`, true, time.Hour, false},
		{"v2 timedelta days", `"2 days, 3:04:05"`, true, 2*day + 3*time.Hour + 4*time.Minute + 5*time.Second, false},
		{"v2 timedelta one day", `"1 day, 0:00:00"`, true, day, false},
		{"v2 timedelta micros", `"0:00:30.000001"`, true, 30*time.Second + time.Microsecond, false},
		{"v2 asset", `"Asset"`, false, 0, true},
		{"v2 garbage", `"every tuesday"`, false, 0, true},
		{"number", `42`, false, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSchedule(json.RawMessage(tc.raw))
			if tc.wantErr {
				if !errors.Is(err, ErrSchedule) {
					t.Fatalf("ParseSchedule(%s) = %+v, %v; want ErrSchedule", tc.raw, s, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Scheduled != tc.scheduled || s.Interval != tc.interval {
				t.Errorf("ParseSchedule(%s) = %+v, want scheduled %v interval %s", tc.raw, s, tc.scheduled, tc.interval)
			}
		})
	}
}

func TestCronInterval(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		expr string
		want time.Duration
	}{
		{"0 * * * *", time.Hour},
		{"*/15 * * * *", 15 * time.Minute},
		{"* * * * *", time.Minute},
		{"5,55 * * * *", 10 * time.Minute}, // :55 to :05 of the next hour
		{"0 9-17 * * 1-5", time.Hour},
		{"0 0 * * 1-5", day},
		{"30 2 * * 0", 7 * day},
		{"30 2 * * 7", 7 * day}, // 7 is Sunday too
		{"0 6 * * *", day},
		{"0 */6 * * *", 6 * time.Hour},
		{"0 0 1 * *", 28 * day},
		{"0 0 1,15 * *", 14 * day}, // the 1st to the 15th, and Feb 15 to Mar 1
		{"0 12 * JAN-MAR mon", 7 * day},
		{"0 0 13 * 5", day}, // day of month OR Friday: Thu 12 (no), Fri 13 ... consecutive days occur
		{"0 0 29 2 *", cronWindow},
		{"0 0 31 2 *", cronWindow}, // never fires
		{"10/20 * * * *", 20 * time.Minute},
	}
	for _, tc := range tests {
		got, err := cronInterval(tc.expr)
		if err != nil {
			t.Errorf("cronInterval(%q): %v", tc.expr, err)
			continue
		}
		if got != tc.want {
			t.Errorf("cronInterval(%q) = %s, want %s", tc.expr, got, tc.want)
		}
	}
	for _, bad := range []string{"* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "5-1 * * * *", "*/0 * * * *", "a * * * *", "* * * foo *", "0 0 L * *"} {
		if _, err := parseCron(bad); !errors.Is(err, ErrSchedule) {
			t.Errorf("parseCron(%q) = %v, want ErrSchedule", bad, err)
		}
	}
}

// TestCronNextMatchesBruteForce compares next with a minute-by-minute
// search for random expressions.
func TestCronNextMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	field := func(max int, allowStar bool) string {
		switch r.IntN(4) {
		case 0:
			if allowStar {
				return "*"
			}
		case 1:
			return "*/" + itoa(1+r.IntN(max/2+1))
		case 2:
			a := r.IntN(max + 1)
			b := a + r.IntN(max+1-a)
			return itoa(a) + "-" + itoa(b)
		}
		return itoa(r.IntN(max + 1))
	}
	from := time.Date(2025, 2, 26, 22, 17, 0, 0, time.UTC)
	for i := 0; i < 200; i++ {
		expr := field(59, true) + " " + field(23, true) + " " + field(27, true) + " * " + field(6, true)
		// A day of month of 0 does not parse; such draws are skipped.
		c, err := parseCron(expr)
		if err != nil {
			continue
		}
		want, ok := bruteNext(c, from, 40*24*60)
		got, gok := c.next(from)
		if ok && (!gok || !got.Equal(want)) {
			t.Errorf("next(%q) = %s %v, want %s", expr, got, gok, want)
		}
	}
}

func bruteNext(c *cron, t time.Time, limit int) (time.Time, bool) {
	t = t.Truncate(time.Minute)
	for i := 0; i < limit; i++ {
		t = t.Add(time.Minute)
		if has(c.minute, t.Minute()) && has(c.hour, t.Hour()) && has(c.month, int(t.Month())) && c.dayMatches(t) {
			return t, true
		}
	}
	return time.Time{}, false
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestShortestSchedule(t *testing.T) {
	dags := map[string]json.RawMessage{
		"a": json.RawMessage(`"@daily"`),
		"b": json.RawMessage(`"0 * * * *"`),
		"c": json.RawMessage(`null`),
		"d": json.RawMessage(`"Asset"`),
	}
	d, id := shortestSchedule(dags)
	if d != time.Hour || id != "b" {
		t.Errorf("shortestSchedule = %s %q, want 1h b", d, id)
	}
	if d, id := shortestSchedule(map[string]json.RawMessage{"c": nil, "d": json.RawMessage(`"Asset"`)}); id != "" || d != 0 {
		t.Errorf("unscheduled = %s %q", d, id)
	}
}

func BenchmarkCronIntervalUncached(b *testing.B) {
	c, err := parseCron("0 */2 * * *")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c.shortestGap(cronWindowStart, cronWindow)
	}
}

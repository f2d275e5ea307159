package airflowsim

import (
	"testing"
	"time"
)

func TestScheduleTicks(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := time.Date(2025, 6, 15, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		name       string
		s          Schedule
		prev, next time.Time
	}{
		{"hourly cron", Cron("0 * * * *"), time.Date(2025, 6, 15, 10, 0, 0, 0, time.UTC), time.Date(2025, 6, 15, 11, 0, 0, 0, time.UTC)},
		{"daily cron", Cron("0 6 * * *"), time.Date(2025, 6, 15, 6, 0, 0, 0, time.UTC), time.Date(2025, 6, 16, 6, 0, 0, 0, time.UTC)},
		{"preset", Cron("@daily"), time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC), time.Date(2025, 6, 16, 0, 0, 0, 0, time.UTC)},
		{"steps and lists", Cron("*/20 9,11 * * *"), time.Date(2025, 6, 15, 9, 40, 0, 0, time.UTC), time.Date(2025, 6, 15, 11, 0, 0, 0, time.UTC)},
		{"weekdays", Cron("0 8 * * 1-5"), time.Date(2025, 6, 13, 8, 0, 0, 0, time.UTC), time.Date(2025, 6, 16, 8, 0, 0, 0, time.UTC)},
		{"timedelta", Every(90 * time.Minute), time.Date(2025, 6, 15, 10, 30, 0, 0, time.UTC), time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev, ok := tc.s.prevTick(at, start)
			if !ok || !prev.Equal(tc.prev) {
				t.Errorf("prevTick = %v, %v; want %v", prev, ok, tc.prev)
			}
			next, ok := tc.s.nextTick(at, start)
			if !ok || !next.Equal(tc.next) {
				t.Errorf("nextTick = %v, %v; want %v", next, ok, tc.next)
			}
		})
	}
	for _, bad := range []string{"* * *", "61 * * * *", "a * * * *", "5-1 * * * *", "*/0 * * * *"} {
		if _, ok := Cron(bad).prevTick(at, start); ok {
			t.Errorf("prevTick(%q) succeeded, want failure", bad)
		}
	}
}

func TestScheduleRendering(t *testing.T) {
	tests := []struct {
		s           Schedule
		summary     string // "" means null
		description string
	}{
		{Cron("0 * * * *"), "0 * * * *", "At 0 minutes past the hour"},
		{Cron("0 6 * * *"), "0 6 * * *", "At 06:00"},
		{Cron("0 6 * * 1"), "0 6 * * 1", "0 6 * * 1"},
		{Every(time.Hour), "1:00:00", ""},
		{Every(26*time.Hour + 90*time.Second + 5*time.Microsecond), "1 day, 2:01:30.000005", ""},
		{Every(72 * time.Hour), "3 days, 0:00:00", ""},
		{Schedule{}, "", "Never, external triggers only"},
	}
	for _, tc := range tests {
		got := ""
		if s := tc.s.summary(); s != nil {
			got = *s
		}
		if got != tc.summary {
			t.Errorf("%+v summary = %q, want %q", tc.s, got, tc.summary)
		}
		if d := tc.s.description(); d != tc.description {
			t.Errorf("%+v description = %q, want %q", tc.s, d, tc.description)
		}
	}
}

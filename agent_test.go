package helpline_test

import (
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

func TestBusinessHoursIsOpen(t *testing.T) {
	h := &helpline.BusinessHours{
		TimeZone: "Europe/Paris",
		Open: []helpline.OpenPeriod{
			{Day: time.Monday, From: "09:00", To: "17:30"},
			{Day: time.Saturday, From: "10:00", To: "24:00"},
		},
		Holidays: []string{"2025-04-21"}, // Easter Monday
	}
	if err := h.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2025, 3, 3, 9, 0, 0, 0, paris), true},       // Monday, the first minute
		{time.Date(2025, 3, 3, 8, 59, 59, 0, paris), false},    // before it
		{time.Date(2025, 3, 3, 17, 29, 0, 0, paris), true},     // the last minute
		{time.Date(2025, 3, 3, 17, 30, 0, 0, paris), false},    // To is exclusive
		{time.Date(2025, 3, 4, 10, 0, 0, 0, paris), false},     // Tuesday has no period
		{time.Date(2025, 3, 8, 23, 59, 0, 0, paris), true},     // Saturday until midnight
		{time.Date(2025, 3, 3, 8, 30, 0, 0, time.UTC), true},   // 09:30 in Paris (UTC+1)
		{time.Date(2025, 3, 3, 16, 45, 0, 0, time.UTC), false}, // 17:45 in Paris
		{time.Date(2025, 4, 21, 11, 0, 0, 0, paris), false},    // a Monday, but a holiday
		{time.Date(2025, 4, 28, 11, 0, 0, 0, paris), true},     // the Monday after
	} {
		if got := h.IsOpen(tc.at); got != tc.want {
			t.Errorf("IsOpen(%v) = %v, want %v", tc.at, got, tc.want)
		}
	}
	// 16:00 UTC is 17:00 in Paris on a Monday in March, 18:00 in June.
	if !h.IsOpen(time.Date(2025, 3, 3, 16, 0, 0, 0, time.UTC)) || h.IsOpen(time.Date(2025, 6, 2, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("IsOpen does not follow the zone's summer time")
	}
}

func TestBusinessHoursCheck(t *testing.T) {
	for name, h := range map[string]helpline.BusinessHours{
		"unknown zone":  {TimeZone: "Mars/Olympus"},
		"from after to": {Open: []helpline.OpenPeriod{{Day: time.Monday, From: "18:00", To: "09:00"}}},
		"not a time":    {Open: []helpline.OpenPeriod{{Day: time.Monday, From: "9h", To: "17:00"}}},
		"not a weekday": {Open: []helpline.OpenPeriod{{Day: 7, From: "09:00", To: "17:00"}}},
		"not a date":    {Holidays: []string{"25/12/2025"}},
	} {
		if err := h.Check(); helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("%s: Check = %v, want EINVALID", name, err)
		}
		if h.IsOpen(time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: hours that fail Check are open", name)
		}
	}
}

// The CLI, the configuration and the admin API create agents with the
// same defaults because they all go through Normalize.
func TestAgentNormalize(t *testing.T) {
	a := &helpline.Agent{InstanceID: "i1", Email: " Ada.L+x@Example.COM "}
	a.Normalize()
	if a.ID != "Ada-L-x" || a.DisplayName != "Ada-L-x" || a.Email != "ada.l+x@example.com" ||
		a.Role != helpline.AgentRoleAgent || a.Capacity != helpline.DefaultCapacity {
		t.Errorf("Normalize = %+v", a)
	}
	if err := a.Check(); err != nil {
		t.Errorf("Check after Normalize: %v", err)
	}
	named := &helpline.Agent{ID: "ada", DisplayName: "Ada", Email: "x@example.com"}
	named.Normalize()
	if named.ID != "ada" || named.DisplayName != "Ada" {
		t.Errorf("Normalize changed a given id or name: %+v", named)
	}
}

// Open periods are read as written in configuration files, the admin API
// and the command line, written back one day each, and a queue's away
// message and end-out-of-hours need hours.
func TestOpenPeriodsAndQueueHours(t *testing.T) {
	open, err := helpline.ParseOpenPeriods([]string{"fri-mon 09:00-17:30", " sat 10:00-13:00 "})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"fri 09:00-17:30", "sat 09:00-17:30", "sun 09:00-17:30", "mon 09:00-17:30", "sat 10:00-13:00"}
	if got := helpline.FormatOpenPeriods(open); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("read and written back: %q, want %q", got, want)
	}
	if again, err := helpline.ParseOpenPeriods(want); err != nil || len(again) != len(open) {
		t.Errorf("reading the written form: %v, %v", again, err)
	}
	for _, bad := range []string{"weekdays 09:00-17:00", "mon", "mon 09:00", "mon-xyz 09:00-10:00", ""} {
		if _, err := helpline.ParseOpenPeriods([]string{bad}); helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("period %q: %v, want EINVALID", bad, err)
		}
	}
	hours := &helpline.BusinessHours{TimeZone: "Europe/Paris", Open: open}
	for name, tc := range map[string]struct {
		q    helpline.Queue
		code string
	}{
		"hours, away, end":      {helpline.Queue{Hours: hours, AwayMessage: "Back Monday.", EndOutOfHours: true}, ""},
		"away without hours":    {helpline.Queue{AwayMessage: "Back Monday."}, helpline.EINVALID},
		"end without hours":     {helpline.Queue{EndOutOfHours: true}, helpline.EINVALID},
		"away message too long": {helpline.Queue{Hours: hours, AwayMessage: strings.Repeat("x", helpline.MaxAwayMessage+1)}, helpline.EINVALID},
		"bad zone":              {helpline.Queue{Hours: &helpline.BusinessHours{TimeZone: "Mars/Olympus"}}, helpline.EINVALID},
		"to before from":        {helpline.Queue{Hours: &helpline.BusinessHours{Open: []helpline.OpenPeriod{{Day: time.Monday, From: "17:00", To: "09:00"}}}}, helpline.EINVALID},
	} {
		q := tc.q
		q.InstanceID, q.ID = "i1", "sales"
		q.Normalize()
		if err := q.Check(); helpline.ErrorCode(err) != tc.code {
			t.Errorf("%s: Check = %v, want %q", name, err, tc.code)
		}
	}
}

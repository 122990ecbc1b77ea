package connectapi

import (
	"strconv"
	"testing"
	"time"
)

// TestParticipantBucketsEvicted: the participant buckets of a thousand
// one-off participants are dropped once full again, while a bucket still
// refilling is kept (dropping it would hand its participant a new burst).
func TestParticipantBucketsEvicted(t *testing.T) {
	l := newLimiter(RateLimits{
		PerOperation: map[string]Rate{},
		PerParticipant: map[string]Rate{
			"SendMessage":   {1, 10}, // full again 10 s after emptied
			"GetTranscript": {10, 10},
		},
	})
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	for range 10 {
		if !l.allow("inst", "busy", "SendMessage", t0) {
			t.Fatal("burst refused")
		}
	}
	for i := range 1000 {
		l.allow("inst", "p"+strconv.Itoa(i), "GetTranscript", t0)
	}
	if n := len(l.participants); n != 1001 {
		t.Fatalf("%d buckets, want 1001", n)
	}

	// 5 s on, every GetTranscript bucket is full again and goes; the busy
	// participant's has refilled 5 tokens and stays.
	t5 := t0.Add(5 * time.Second)
	granted := 0
	for l.allow("inst", "busy", "SendMessage", t5) {
		granted++
	}
	if granted != 5 {
		t.Errorf("busy participant got %d messages 5 s after its burst, want 5", granted)
	}
	if n := len(l.participants); n != 1 {
		t.Errorf("%d buckets after the sweep, want only the busy one", n)
	}

	// Once full, it goes too.
	l.allow("inst", "other", "GetTranscript", t5.Add(20*time.Second))
	if _, ok := l.participants[participantKey{"inst", "busy", "SendMessage"}]; ok {
		t.Error("the busy participant's full bucket was kept")
	}
}

// TestSocketCountsDropped: a participant's socket count goes when its last
// socket closes.
func TestSocketCountsDropped(t *testing.T) {
	l := newLimiter(RateLimits{SocketsPerParticipant: 2})
	for i := range 100 {
		p := "p" + strconv.Itoa(i)
		if !l.openSocket("inst", p) || !l.openSocket("inst", p) {
			t.Fatal("slot refused under the limit")
		}
		if l.openSocket("inst", p) {
			t.Fatal("third socket allowed with a limit of 2")
		}
		l.closeSocket("inst", p)
		l.closeSocket("inst", p)
	}
	if n := len(l.sockets); n != 0 {
		t.Errorf("%d socket counts left after every socket closed", n)
	}
}

// TestParticipantLimitsBelowInstance: a participant alone never spends its
// instance's whole bucket at the defaults.
func TestParticipantLimitsBelowInstance(t *testing.T) {
	d := DefaultRateLimits()
	for op, p := range d.PerParticipant {
		in, ok := d.PerOperation[op]
		if !ok {
			if op != OpenWebSocket {
				t.Errorf("%s is limited per participant but not per instance", op)
			}
			continue
		}
		if p.Rate >= in.Rate || p.Burst >= in.Burst {
			t.Errorf("%s: participant %+v is not below the instance's %+v", op, p, in)
		}
	}
}

// TestInstanceRefusalReturnsParticipantToken: a request the instance's
// bucket refuses costs the participant nothing.
func TestInstanceRefusalReturnsParticipantToken(t *testing.T) {
	l := newLimiter(RateLimits{
		PerOperation:   map[string]Rate{"SendMessage": {1, 1}},
		PerParticipant: map[string]Rate{"SendMessage": {1, 5}},
	})
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	if !l.allow("inst", "a", "SendMessage", t0) {
		t.Fatal("first request refused")
	}
	for range 3 {
		if l.allow("inst", "b", "SendMessage", t0) {
			t.Fatal("instance bucket of 1 allowed a second request")
		}
	}
	if got := l.participants[participantKey{"inst", "b", "SendMessage"}].TokensAt(t0); got != 5 {
		t.Errorf("participant refused by the instance has %v tokens, want all 5", got)
	}
}

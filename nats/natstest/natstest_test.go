package natstest

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// outcome records what resolve did instead of ending the test.
type outcome struct {
	testing.TB
	skipped, failed string
}

func (o *outcome) Helper()           {}
func (o *outcome) Skip(args ...any)  { o.skipped = fmt.Sprint(args...) }
func (o *outcome) Fatal(args ...any) { o.failed = fmt.Sprint(args...) }

// A named server that does not answer fails; an absent default skips,
// unless CI is set; a server that answers is used.
func TestResolve(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := "nats://" + ln.Addr().String()
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "nats://" + ln2.Addr().String()
	ln2.Close()
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	for _, tc := range []struct {
		name               string
		env                map[string]string
		def                string
		want, skip, failed bool
	}{
		{"named and up", map[string]string{"HELPLINE_TEST_NATS": up}, down, true, false, false},
		{"default up", nil, up, true, false, false},
		{"named and down", map[string]string{"HELPLINE_TEST_NATS": down}, up, false, false, true},
		{"nothing", nil, down, false, true, false},
		{"nothing under CI", map[string]string{"CI": "true"}, down, false, false, true},
	} {
		o := &outcome{TB: t}
		lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
		got := resolve(o, lookup, tc.def)
		if (o.skipped != "") != tc.skip || (o.failed != "") != tc.failed {
			t.Errorf("%s: skipped %q, failed %q", tc.name, o.skipped, o.failed)
		}
		if tc.want && (got == "" || got == down) {
			t.Errorf("%s: URL %q, want the server that answers", tc.name, got)
		}
		if msg := o.skipped + o.failed; msg != "" && !strings.Contains(msg, "HELPLINE_TEST_NATS") {
			t.Errorf("%s: message %q does not say how to name a server", tc.name, msg)
		}
	}
}

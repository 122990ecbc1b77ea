// Command zendeskfake serves the Zendesk Support fake (package
// zendesktest) on a loopback port, for tests written in another language
// (the web tests start it beside `helpline serve`). It prints the fake's
// URL as its first line on stdout and serves until its stdin closes or it
// is signalled.
//
//	go run ./internal/zendeskfake [-ticket-updates-per-10min 600]
//
// The API credentials are the fake's defaults: bot@example.com/token with
// the token "zd-token".
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
)

func main() {
	perTicket := flag.Int("ticket-updates-per-10min", zendesktest.TicketUpdatesPer10Min,
		"the per-ticket update limit (Zendesk's is 30); a test that writes much in one chat raises it")
	flag.Parse()
	fake := zendesktest.NewServer(zendesktest.Options{TicketUpdatesPer10Min: *perTicket})
	defer fake.Close()
	fmt.Println(fake.URL)
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case <-done:
	case <-sig:
	}
}

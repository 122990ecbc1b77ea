package natsbus_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/bustest"
	natsbus "github.com/helplinehq/helpline/nats"
	"github.com/helplinehq/helpline/nats/natstest"
)

// open returns a bus on url under prefix, closed when the test ends.
func open(t *testing.T, url, prefix string, opts ...func(*natsbus.Options)) *natsbus.Bus {
	t.Helper()
	o := natsbus.Options{URL: url, Prefix: prefix, Name: t.Name(), ReconnectWait: 50 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	b, err := natsbus.Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestBus(t *testing.T) {
	url := natstest.URL(t)
	bustest.Run(t, func(t *testing.T) helpline.Bus { return open(t, url, natstest.Prefix()) })
}

func TestBusSmallBuffers(t *testing.T) {
	url := natstest.URL(t)
	bustest.Run(t, func(t *testing.T) helpline.Bus {
		return open(t, url, natstest.Prefix(), func(o *natsbus.Options) { o.ContactBuffer, o.AllBuffer = 2048, 8192 })
	})
}

func item(contact string, seq int64) helpline.Event {
	return helpline.NewItemEvent(&helpline.Item{ContactID: contact, Seq: seq, ID: fmt.Sprintf("%s-%d", contact, seq),
		Type: helpline.ItemMessage, ContentType: helpline.ContentPlain, Content: "hello", Role: helpline.RoleCustomer,
		Time: time.UnixMilli(1700000000000).UTC()})
}

func publish(t *testing.T, b helpline.Bus, ev helpline.Event) {
	t.Helper()
	if err := b.Publish(context.Background(), ev); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

func subscribe(t *testing.T, b helpline.Bus, subject helpline.Subject, group string) helpline.Subscription {
	t.Helper()
	var sub helpline.Subscription
	var err error
	if group == "" {
		sub, err = b.Subscribe(context.Background(), subject)
	} else {
		sub, err = b.SubscribeGroup(context.Background(), subject, group)
	}
	if err != nil {
		t.Fatalf("Subscribe(%s, %q): %v", subject, group, err)
	}
	t.Cleanup(sub.Close)
	return sub
}

func next(t *testing.T, sub helpline.Subscription) helpline.Event {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		if !ok {
			t.Fatal("subscription closed")
		}
		return ev
	case <-time.After(bustest.Wait):
		t.Fatal("no event within", bustest.Wait)
	}
	panic("unreachable")
}

func quiet(t *testing.T, sub helpline.Subscription) {
	t.Helper()
	select {
	case ev := <-sub.Events():
		t.Fatalf("unexpected %s event on %s", ev.Kind, ev.Subject)
	case <-time.After(200 * time.Millisecond):
	}
}

// Two nodes: what one publishes the other's subscribers get, and a
// group spans both nodes, each event going to one node.
func TestAcrossNodes(t *testing.T) {
	url, prefix := natstest.URL(t), natstest.Prefix()
	a, b := open(t, url, prefix), open(t, url, prefix)
	onA := subscribe(t, a, helpline.AllContacts, "")
	onB := subscribe(t, b, helpline.ContactSubject("c1"), "")
	groupA := subscribe(t, a, helpline.AllContacts, "mirror")
	groupB := subscribe(t, b, helpline.AllContacts, "mirror")

	const n = 200
	for seq := int64(1); seq <= n; seq++ {
		publish(t, b, item("c1", seq))
	}
	for seq := int64(1); seq <= n; seq++ {
		for name, sub := range map[string]helpline.Subscription{"node a": onA, "node b": onB} {
			if ev := next(t, sub); ev.Item.Seq != seq || ev.Subject != helpline.ContactSubject("c1") {
				t.Fatalf("%s got %s #%d, want c1 #%d", name, ev.Subject, ev.Item.Seq, seq)
			}
		}
	}
	got := map[int64]string{}
	for len(got) < n {
		var ev helpline.Event
		node := "a"
		select {
		case ev = <-groupA.Events():
		case ev = <-groupB.Events():
			node = "b"
		case <-time.After(bustest.Wait):
			t.Fatalf("the group got %d of %d events", len(got), n)
		}
		if other, dup := got[ev.Item.Seq]; dup {
			t.Fatalf("#%d reached the group on node %s and on node %s", ev.Item.Seq, other, node)
		}
		got[ev.Item.Seq] = node
	}
	quiet(t, groupA)
	quiet(t, groupB)
	perNode := map[string]int{}
	for _, node := range got {
		perNode[node]++
	}
	if perNode["a"] == 0 || perNode["b"] == 0 {
		t.Errorf("the group's events per node: %v, want both nodes to take some", perNode)
	}
}

// Buses under different prefixes share a server without seeing each
// other's events.
func TestPrefixesApart(t *testing.T) {
	url := natstest.URL(t)
	one, other := open(t, url, natstest.Prefix()), open(t, url, natstest.Prefix())
	sub := subscribe(t, other, helpline.AllContacts, "")
	publish(t, one, item("c1", 1))
	quiet(t, sub)
	publish(t, other, item("c1", 2))
	if ev := next(t, sub); ev.Item.Seq != 2 {
		t.Errorf("got #%d, want #2", ev.Item.Seq)
	}
}

// A message on a Helpline subject that is no event (another program's, a
// bug) is passed over, and the subscription goes on.
func TestUndecodableMessage(t *testing.T) {
	url, prefix := natstest.URL(t), natstest.Prefix()
	b := open(t, url, prefix)
	sub := subscribe(t, b, helpline.AllContacts, "")
	raw, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, data := range []string{"", "not json", `{"Kind":"item","Item":"a string"}`, "[1,2]"} {
		if err := raw.Publish(prefix+".contact.c1", []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	raw.Flush()
	publish(t, b, item("c1", 1))
	if ev := next(t, sub); ev.Kind != helpline.EventItem || ev.Item.Seq != 1 {
		t.Fatalf("got %s, want item #1", ev.Kind)
	}
	quiet(t, sub)
	if sub.Lost() != 0 {
		t.Errorf("Lost() = %d, want 0", sub.Lost())
	}
}

func TestOpenRefuses(t *testing.T) {
	for name, o := range map[string]natsbus.Options{
		"no url":       {},
		"prefix dot":   {URL: natstest.DefaultURL, Prefix: "a."},
		"prefix space": {URL: natstest.DefaultURL, Prefix: "a b"},
		"prefix *":     {URL: natstest.DefaultURL, Prefix: "*"},
		"prefix >":     {URL: natstest.DefaultURL, Prefix: "helpline.>"},
	} {
		if b, err := natsbus.Open(o); helpline.ErrorCode(err) != helpline.EINVALID {
			t.Errorf("%s: Open = %v, want EINVALID", name, err)
			if b != nil {
				b.Close()
			}
		}
	}
	// Nothing listens on a port just freed.
	srv := natstest.Start(t)
	srv.Stop()
	down := strings.Replace(srv.URL(), "nats://", "nats://user:secret@", 1)
	if b, err := natsbus.Open(natsbus.Options{URL: down}); err == nil {
		b.Close()
		t.Error("Open of a server that is down succeeded")
	} else if msg := err.Error(); !strings.Contains(msg, "connecting to NATS") || strings.Contains(msg, "secret") {
		t.Errorf("Open error %q: want it to say it was connecting to NATS, without the password", msg)
	}
}

// A reconnection is a gap: every subscription counts a loss and gets an
// EventGap, and events flow again afterwards.
func TestGapOnReconnect(t *testing.T) {
	url, prefix := natstest.URL(t), natstest.Prefix()
	b := open(t, url, prefix)
	one := subscribe(t, b, helpline.ContactSubject("c1"), "")
	member := subscribe(t, b, helpline.AllAgents, "routing")
	if err := b.Conn().ForceReconnect(); err != nil {
		t.Fatal(err)
	}
	for name, sub := range map[string]helpline.Subscription{"contact": one, "group member": member} {
		ev := next(t, sub)
		if ev.Kind != helpline.EventGap || (sub == one) != (ev.Subject == helpline.ContactSubject("c1")) {
			t.Fatalf("%s subscriber got %s on %s, want a gap on its own subject", name, ev.Kind, ev.Subject)
		}
		if sub.Lost() != 1 {
			t.Errorf("%s subscriber: Lost() = %d after a gap, want 1", name, sub.Lost())
		}
	}
	publish(t, b, item("c1", 1))
	if ev := next(t, one); ev.Kind != helpline.EventItem || ev.Item.Seq != 1 {
		t.Fatalf("after the gap got %s, want item #1", ev.Kind)
	}
}

// While the server is down, events published elsewhere are lost; once it
// is back, the subscribers are told so and receive again; what the bus
// published meanwhile is sent after the reconnection.
func TestServerRestart(t *testing.T) {
	srv := natstest.Start(t)
	prefix := natstest.Prefix()
	a, b := open(t, srv.URL(), prefix), open(t, srv.URL(), prefix)
	sub := subscribe(t, a, helpline.AllContacts, "")
	publish(t, b, item("c1", 1))
	if ev := next(t, sub); ev.Item.Seq != 1 {
		t.Fatalf("got #%d, want #1", ev.Item.Seq)
	}
	srv.Stop()
	waitFor(t, func() bool { return a.Ping(context.Background()) != nil }, "node a to see the server gone")
	// Buffered by node b until it reconnects.
	publish(t, b, item("c1", 2))
	srv.Restart()
	waitFor(t, func() bool { return a.Ping(context.Background()) == nil && b.Ping(context.Background()) == nil },
		"both nodes to reconnect")
	publish(t, b, item("c1", 3))
	var sawGap, saw3 bool
	for !sawGap || !saw3 {
		switch ev := next(t, sub); {
		case ev.Kind == helpline.EventGap:
			sawGap = true
		case ev.Item.Seq == 3:
			saw3 = true
		case ev.Item.Seq != 2:
			// #2 was buffered by node b: it reaches node a if b
			// reconnected after a resubscribed, and is lost otherwise.
			t.Fatalf("unexpected #%d", ev.Item.Seq)
		}
	}
	if sub.Lost() == 0 {
		t.Error("Lost() = 0 after the server's restart")
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// While the server is down, Subscribe and Publish return at once: the
// subscription is made, and the event sent, on reconnecting.
func TestSubscribeWhileDown(t *testing.T) {
	srv := natstest.Start(t)
	b := open(t, srv.URL(), natstest.Prefix())
	srv.Stop()
	waitFor(t, func() bool { return b.Ping(context.Background()) != nil }, "the bus to see the server gone")
	start := time.Now()
	sub := subscribe(t, b, helpline.ContactSubject("c1"), "")
	publish(t, b, item("c1", 1))
	if d := time.Since(start); d > natsbus.DefaultConnectTimeout {
		t.Errorf("Subscribe and Publish took %v while the server was down", d)
	}
	srv.Restart()
	var sawGap, sawItem bool
	for !sawGap || !sawItem {
		switch ev := next(t, sub); ev.Kind {
		case helpline.EventGap:
			sawGap = true
		case helpline.EventItem:
			sawItem = ev.Item.Seq == 1
		}
	}
}

package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/sqlite"
)

// BenchmarkAppendItem appends messages from many goroutines (16 per CPU,
// standing in for concurrent requests) to 1,000 active contacts, and
// reports the sustained rate.
func BenchmarkAppendItem(b *testing.B) {
	ctx := context.Background()
	db := open(b, filepath.Join(b.TempDir(), "helpline.db"))
	const contacts = 1000
	customers := make([]*helpline.Participant, contacts)
	for i := range customers {
		id := helpline.NewID()
		customers[i] = &helpline.Participant{ID: helpline.NewID(), ContactID: id, Role: helpline.RoleCustomer, DisplayName: "Customer", CreatedAt: helpline.Now()}
		nc := &helpline.NewContact{
			Contact:  &helpline.Contact{ID: id, InstanceID: "i1", InitialContactID: id, State: helpline.ContactActive, CreatedAt: helpline.Now()},
			Customer: customers[i],
		}
		if _, err := db.CreateContact(ctx, nc); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1)
			p := customers[n%contacts]
			it := &helpline.Item{
				ContactID: p.ContactID, ID: helpline.NewID(), Type: helpline.ItemMessage, ContentType: helpline.ContentPlain,
				Content: "Hello, I have a question about my order.", ParticipantID: p.ID, DisplayName: p.DisplayName,
				Role: p.Role, Time: helpline.Now(), ClientToken: helpline.NewID(),
			}
			if _, err := db.AppendItem(ctx, it); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// BenchmarkRoutingSnapshot reads the routing snapshot of an instance at
// the agents load's scale: 500 agents of one queue, 2,000 active chats of
// which 1,500 are held by agents (through accepted offers) and 500 wait.
func BenchmarkRoutingSnapshot(b *testing.B) {
	ctx := context.Background()
	db := routingLoad(b)
	b.ResetTimer()
	for range b.N {
		snap, err := db.RoutingSnapshot(ctx, "i1")
		if err != nil {
			b.Fatal(err)
		} else if len(snap.Waiting) != routingChats-routingHeld {
			b.Fatalf("%d waiting, want %d", len(snap.Waiting), routingChats-routingHeld)
		}
	}
}

// BenchmarkAgentSnapshot reads one agent's part of the state
// BenchmarkRoutingSnapshot reads whole, as an agent console does.
func BenchmarkAgentSnapshot(b *testing.B) {
	ctx := context.Background()
	db := routingLoad(b)
	b.ResetTimer()
	for range b.N {
		snap, err := db.AgentSnapshot(ctx, "i1", "a0007")
		if err != nil {
			b.Fatal(err)
		} else if len(snap.Agents) != 1 || len(snap.Agents[0].Chats) != routingHeld/routingAgents || len(snap.Waiting) != routingChats-routingHeld {
			b.Fatalf("%d agents, %d waiting, want the agent with %d chats and %d waiting", len(snap.Agents), len(snap.Waiting),
				routingHeld/routingAgents, routingChats-routingHeld)
		}
	}
}

// The routing load of the snapshot benchmarks: routingAgents agents serving
// queue q, routingChats chats of which the first routingHeld were offered
// and accepted, round robin over the agents, and the others wait.
const routingAgents, routingChats, routingHeld = 500, 2000, 1500

func routingLoad(b *testing.B) *sqlite.DB {
	ctx := context.Background()
	db := open(b, filepath.Join(b.TempDir(), "helpline.db"))
	if err := db.SaveInstance(ctx, &helpline.Instance{ID: "i1", Name: "i1"}); err != nil {
		b.Fatal(err)
	}
	if err := db.SaveQueue(ctx, &helpline.Queue{InstanceID: "i1", ID: "q"}); err != nil {
		b.Fatal(err)
	}
	for i := range routingAgents {
		a := &helpline.Agent{InstanceID: "i1", ID: fmt.Sprintf("a%04d", i), Email: fmt.Sprintf("a%04d@example.com", i),
			Queues: []string{"q"}, Capacity: 10, Enabled: true, CreatedAt: helpline.Now()}
		if err := db.CreateAgent(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
	start := helpline.Now()
	for i := range routingChats {
		id := helpline.NewID()
		nc := &helpline.NewContact{Contact: &helpline.Contact{ID: id, InstanceID: "i1", InitialContactID: id,
			State: helpline.ContactActive, Owner: "queue:q", CreatedAt: start, ExpiresAt: start.Add(time.Hour)}}
		if _, err := db.CreateContact(ctx, nc); err != nil {
			b.Fatal(err)
		}
		if i >= routingHeld {
			continue
		}
		o := &helpline.Offer{ContactID: id, QueueID: "q", AgentID: fmt.Sprintf("a%04d", i%routingAgents), ContactVersion: 1,
			CreatedAt: start, ExpiresAt: start.Add(time.Hour)}
		if err := db.CreateOffer(ctx, o); err != nil {
			b.Fatal(err)
		}
		if _, _, err := db.AcceptOffer(ctx, o.ID, start); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

package postgres_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/postgres/pgtest"
)

// BenchmarkAppendItem appends messages from many goroutines (16 per CPU,
// standing in for concurrent requests) to 1,000 active contacts, and
// reports the sustained rate, as sqlite's benchmark does. Its schema
// commits without waiting for the disk (pgtest), so the figure is the
// store's and the network's, not the server's fsync.
func BenchmarkAppendItem(b *testing.B) {
	ctx := context.Background()
	db := open(b, pgtest.Schema(b))
	const contacts = 1000
	customers := make([]*helpline.Participant, contacts)
	for i := range customers {
		nc := newContact()
		customers[i] = nc.Customer
		if _, err := db.CreateContact(ctx, nc); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p := customers[next.Add(1)%contacts]
			if _, err := db.AppendItem(ctx, message(p, "Hello, I have a question about my order.", helpline.NewID())); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

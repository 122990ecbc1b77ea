package sqlite_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/helplinehq/helpline"
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

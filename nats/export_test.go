package natsbus

import "github.com/nats-io/nats.go"

// Conn is the bus's NATS connection, for tests that force a reconnect.
func (b *Bus) Conn() *nats.Conn { return b.nc }

package inmem_test

import (
	"testing"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/bustest"
	"github.com/helplinehq/helpline/inmem"
)

func TestBus(t *testing.T) {
	bustest.Run(t, func(*testing.T) helpline.Bus { return inmem.NewBus() })
}

func TestBusSmallBuffers(t *testing.T) {
	bustest.Run(t, func(*testing.T) helpline.Bus { return inmem.NewBus(inmem.WithBuffers(2048, 8192)) })
}

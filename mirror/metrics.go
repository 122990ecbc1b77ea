package mirror

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/helplinehq/helpline"
)

// metrics are the dispatcher's Prometheus series, labelled by connector.
type metrics struct {
	// lag is the time from an item's append to its delivery.
	lag        *prometheus.HistogramVec
	duration   *prometheus.HistogramVec
	deliveries *prometheus.CounterVec
	items      *prometheus.CounterVec
	retries    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, store helpline.MirrorStore, connectors []string) *metrics {
	m := &metrics{
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "helpline_mirror_lag_seconds",
			Help:    "Time from an item's append to its delivery to the connector.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800},
		}, []string{"connector"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "helpline_mirror_delivery_seconds",
			Help:    "Duration of one connector call (one batch).",
			Buckets: prometheus.DefBuckets,
		}, []string{"connector"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpline_mirror_deliveries_total",
			Help: "Connector calls by result: ok, retry (a retryable failure) or parked (a permanent one).",
		}, []string{"connector", "result"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpline_mirror_items_total",
			Help: "Items delivered to the connector.",
		}, []string{"connector"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "helpline_mirror_retries_total",
			Help: "Deliveries that failed and were scheduled again.",
		}, []string{"connector"}),
	}
	if reg == nil {
		return m
	}
	m.lag = register(reg, m.lag)
	m.duration = register(reg, m.duration)
	m.deliveries = register(reg, m.deliveries)
	m.items = register(reg, m.items)
	m.retries = register(reg, m.retries)
	register(reg, prometheus.Collector(&parkedCollector{store: store, connectors: connectors}))
	return m
}

// register registers c, or returns the collector already registered under
// its name (a second dispatcher in one process shares the series).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

var parkedDesc = prometheus.NewDesc("helpline_mirror_parked_pairs",
	"Pairs stopped by a permanent failure, waiting for an operator (helpline replay).",
	[]string{"connector"}, nil)

// parkedCollector counts parked pairs in the store at scrape time, so the
// gauge is right on every node and across restarts.
type parkedCollector struct {
	store      helpline.MirrorStore
	connectors []string
}

func (c *parkedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- parkedDesc }

func (c *parkedCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, name := range c.connectors {
		pairs, err := c.store.FindMirrorPairs(ctx, helpline.MirrorPairFilter{Connector: name, State: helpline.MirrorParked})
		if err != nil {
			ch <- prometheus.NewInvalidMetric(parkedDesc, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(parkedDesc, prometheus.GaugeValue, float64(len(pairs)), name)
	}
}

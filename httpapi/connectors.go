package httpapi

import (
	"net/http"
	"slices"
	"time"

	"github.com/helplinehq/helpline"
)

// Connectors' health for the console's admins (AgentConfig.Mirrors and
// Connectors set), over the store calls the operator API's /admin/mirror/
// endpoints make:
//
//	GET  /api/admin/connectors                   per mirroring connector: pairs behind, parked ones with their reasons, the oldest lag
//	POST /api/admin/connectors/{name}/replay     {"contact_id"} optional: parked pairs resume
//
// Connectors serve the whole node, every instance's chats, so only an
// admin of the node's default instance (session or admin token) may;
// other admins get forbidden.

// maxParkedListed bounds the parked pairs listed per connector; the count
// is complete up to maxPairsCounted.
const (
	maxParkedListed = 100
	maxPairsCounted = 10000
)

func (a *agentAPI) mountConnectors(mux *http.ServeMux) {
	a.mountAdminRoutes(mux, map[string]adminHandler{
		"GET /api/admin/connectors":                {a.defaultInstanceOnly(a.connectorsHealth)},
		"POST /api/admin/connectors/{name}/replay": {a.defaultInstanceOnly(a.replayConnector)},
	})
}

// defaultInstanceOnly serves fn to principals of the node's default
// instance; others get forbidden.
func (a *agentAPI) defaultInstanceOnly(fn func(w http.ResponseWriter, r *http.Request, p *Principal) error) func(w http.ResponseWriter, r *http.Request, p *Principal) error {
	return func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		if p.InstanceID != a.cfg.DefaultInstance {
			return helpline.Errorf(helpline.EFORBIDDEN, "Connectors serve the whole node: an admin of the default instance manages them.")
		}
		return fn(w, r, p)
	}
}

type parkedJSON struct {
	ContactID string    `json:"contact_id"`
	Reason    string    `json:"reason"`
	Attempts  int       `json:"attempts"`
	Cursor    int64     `json:"cursor"`
	LastSeq   int64     `json:"last_seq"`
	ParkedAt  time.Time `json:"parked_at"`
}

type connectorHealthJSON struct {
	Name   string `json:"name"`
	Behind int    `json:"behind"`
	// OldestLagSeconds is how long ago the least recently written pair
	// that is behind was last written (0 when none is behind).
	OldestLagSeconds float64      `json:"oldest_lag_seconds"`
	ParkedCount      int          `json:"parked_count"`
	Parked           []parkedJSON `json:"parked"`
}

func (a *agentAPI) connectorsHealth(w http.ResponseWriter, r *http.Request, p *Principal) error {
	ctx, now := r.Context(), a.now()
	out := make([]connectorHealthJSON, 0, len(a.cfg.Connectors))
	for _, name := range a.cfg.Connectors {
		h := connectorHealthJSON{Name: name, Parked: []parkedJSON{}}
		behind, err := a.cfg.Mirrors.FindMirrorPairs(ctx, helpline.MirrorPairFilter{Connector: name, State: helpline.MirrorActive, Behind: true, Limit: maxPairsCounted})
		if err != nil {
			return err
		}
		h.Behind = len(behind)
		for _, mp := range behind {
			h.OldestLagSeconds = max(h.OldestLagSeconds, now.Sub(mp.UpdatedAt).Seconds())
		}
		parked, err := a.cfg.Mirrors.FindMirrorPairs(ctx, helpline.MirrorPairFilter{Connector: name, State: helpline.MirrorParked, Limit: maxPairsCounted})
		if err != nil {
			return err
		}
		h.ParkedCount = len(parked)
		for _, mp := range parked[:min(len(parked), maxParkedListed)] {
			h.Parked = append(h.Parked, parkedJSON{ContactID: mp.ContactID, Reason: mp.LastError, Attempts: mp.Attempts,
				Cursor: mp.Cursor, LastSeq: mp.LastSeq, ParkedAt: mp.UpdatedAt})
		}
		out = append(out, h)
	}
	writeJSON(w, http.StatusOK, map[string]any{"connectors": out})
	return nil
}

func (a *agentAPI) replayConnector(w http.ResponseWriter, r *http.Request, p *Principal) error {
	var in struct {
		ContactID string `json:"contact_id"`
	}
	if r.ContentLength != 0 {
		if err := decode(r, &in); err != nil {
			return err
		}
	}
	name := r.PathValue("name")
	if !slices.Contains(a.cfg.Connectors, name) {
		return helpline.Errorf(helpline.ENOTFOUND, "No mirroring connector is named %q.", name)
	}
	n, err := a.cfg.Mirrors.ResumeMirrorPairs(r.Context(), name, in.ContactID, a.now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"resumed": n})
	return nil
}

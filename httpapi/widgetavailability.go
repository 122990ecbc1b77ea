package httpapi

import (
	"context"
	"net/http"

	"github.com/helplinehq/helpline"
)

// RoutingReader reads what routing decides on (helpline.RoutingStore's
// RoutingSnapshot).
type RoutingReader interface {
	RoutingSnapshot(ctx context.Context, instanceID string) (*helpline.RoutingSnapshot, error)
}

// availabilityJSON says whether a chat started now in the widget's flow
// would reach a person: an enabled agent who serves the flow's queue (any
// queue, for a flow without one) is online, and the flow is within its
// business hours (a flow without hours always is).
type availabilityJSON struct {
	Available    bool `json:"available"`
	AgentsOnline bool `json:"agents_online"`
	InHours      bool `json:"in_hours"`
}

func (wa *WidgetAPI) availability(w http.ResponseWriter, r *http.Request) error {
	if wa.cfg.Routing == nil || wa.cfg.Presence == nil {
		return helpline.Errorf(helpline.ENOTFOUND, "No such endpoint: %s %s.", r.Method, r.URL.Path)
	}
	in, ws, err := wa.authorise(w, r, "availability")
	if err != nil {
		return err
	}
	f := flowOf(in, ws)
	if f == nil {
		return helpline.Errorf(helpline.ECONFLICT, "The instance has no flow to start chats in.")
	}
	snap, err := wa.cfg.Routing.RoutingSnapshot(r.Context(), in.ID)
	if err != nil {
		return err
	}
	out := availabilityJSON{InHours: f.Hours == nil || f.Hours.IsOpen(wa.now())}
	for _, a := range snap.Agents {
		if a.Agent.Enabled && (f.Queue == "" || a.Agent.Serves(f.Queue)) && wa.cfg.Presence(a.Presence) == helpline.PresenceOnline {
			out.AgentsOnline = true
			break
		}
	}
	out.Available = out.AgentsOnline && out.InHours
	writeJSON(w, http.StatusOK, out)
	return nil
}

package httpapi

import (
	"net/http"

	"github.com/helplinehq/helpline"
)

// Canned responses: replies an instance's agents insert by shortcut.
//
//	GET    /api/agent/canned                         any principal of the instance
//	POST   /api/admin/canned       {"shortcut","text"}   admin
//	PATCH  /api/admin/canned/{id}  {"shortcut","text"}   admin; fields left out are kept
//	DELETE /api/admin/canned/{id}                        admin
//
// Shortcuts and texts are checked by helpline.CannedResponse's Normalize
// and Check; an instance has at most helpline.MaxCannedPerInstance. One of
// another instance is not_found.

func (a *agentAPI) mountCanned(mux *http.ServeMux) {
	mux.Handle("GET /api/agent/canned", a.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.handle(w, r, func(p *Principal) error { return a.listCanned(w, r, p) })
	})))
	a.mountAdminRoutes(mux, map[string]adminHandler{
		"POST /api/admin/canned":        {a.createCanned},
		"PATCH /api/admin/canned/{id}":  {a.patchCanned},
		"DELETE /api/admin/canned/{id}": {a.deleteCanned},
	})
}

// cannedJSON is a canned response on the wire.
type cannedJSON struct {
	ID        string `json:"id"`
	Shortcut  string `json:"shortcut"`
	Text      string `json:"text"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func cannedOut(c *helpline.CannedResponse) cannedJSON {
	const layout = "2006-01-02T15:04:05.000Z07:00"
	return cannedJSON{ID: c.ID, Shortcut: c.Shortcut, Text: c.Text,
		CreatedAt: c.CreatedAt.Format(layout), UpdatedAt: c.UpdatedAt.Format(layout)}
}

func (a *agentAPI) listCanned(w http.ResponseWriter, r *http.Request, p *Principal) error {
	list, err := a.cfg.Agents.FindCannedResponses(r.Context(), p.InstanceID)
	if err != nil {
		return err
	}
	out := make([]cannedJSON, 0, len(list))
	for _, c := range list {
		out = append(out, cannedOut(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"canned": out})
	return nil
}

type cannedInput struct {
	Shortcut *string `json:"shortcut"`
	Text     *string `json:"text"`
}

func (a *agentAPI) createCanned(w http.ResponseWriter, r *http.Request, p *Principal) error {
	var in cannedInput
	if err := decode(r, &in); err != nil {
		return err
	} else if in.Shortcut == nil || in.Text == nil {
		return helpline.Errorf(helpline.EINVALID, "shortcut and text are required.")
	}
	now := a.now()
	c := &helpline.CannedResponse{InstanceID: p.InstanceID, ID: helpline.NewID(), Shortcut: *in.Shortcut, Text: *in.Text,
		CreatedAt: now, UpdatedAt: now}
	c.Normalize()
	if err := a.cfg.Agents.CreateCannedResponse(r.Context(), c, helpline.MaxCannedPerInstance); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, cannedOut(c))
	return nil
}

func (a *agentAPI) patchCanned(w http.ResponseWriter, r *http.Request, p *Principal) error {
	var in cannedInput
	if err := decode(r, &in); err != nil {
		return err
	}
	c, err := a.findCanned(r, p)
	if err != nil {
		return err
	}
	if in.Shortcut != nil {
		c.Shortcut = *in.Shortcut
	}
	if in.Text != nil {
		c.Text = *in.Text
	}
	c.Normalize()
	c.UpdatedAt = a.now()
	if err := a.cfg.Agents.UpdateCannedResponse(r.Context(), c); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, cannedOut(c))
	return nil
}

func (a *agentAPI) deleteCanned(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := a.cfg.Agents.DeleteCannedResponse(r.Context(), p.InstanceID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// findCanned returns the instance's canned response the path names. An
// instance has few of them, so it is picked from the list.
func (a *agentAPI) findCanned(r *http.Request, p *Principal) (*helpline.CannedResponse, error) {
	list, err := a.cfg.Agents.FindCannedResponses(r.Context(), p.InstanceID)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	for _, c := range list {
		if c.ID == id {
			return c, nil
		}
	}
	return nil, helpline.NotFound(helpline.ResourceCannedResponse, id)
}

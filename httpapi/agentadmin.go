package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/helplinehq/helpline"
)

// The admin API for agents and queues: what "helpline agents" and
// "helpline queues" do on the data directory, for an admin of the
// instance (a session with its CSRF token, or an admin API token).
//
//	GET   /api/admin/agents
//	POST  /api/admin/agents                 {"id","name","email","role","queues","capacity","password","instance"}
//	GET   /api/admin/agents/{id}
//	PATCH /api/admin/agents/{id}            {"name","role","queues","capacity","enabled"}
//	POST  /api/admin/agents/{id}/password   {"password"}  the agent's other sessions end
//	POST  /api/admin/agents/{id}/disable    the agent's sessions end
//	GET   /api/admin/queues
//	POST  /api/admin/queues                 {"id","name","routing","accept_within","auto_accept","reassign_after",
//	                                         "hours":{"time_zone","open","holidays"},"away_message","end_out_of_hours","instance"}
//	GET   /api/admin/queues/{id}
//	PATCH /api/admin/queues/{id}            {"name","routing","accept_within","auto_accept","reassign_after",
//	                                         "hours","away_message","end_out_of_hours"} ("hours":null: always open)
//
// Agents and queues are checked by helpline's Normalize and Check, and
// passwords by AgentConfig.HashPassword, as the CLI and the configuration
// file are. A password is never part of an answer. An agent or queue of
// another instance is not_found.

func (a *agentAPI) mountAdmin(mux *http.ServeMux) {
	a.mountAdminRoutes(mux, map[string]adminHandler{
		"GET /api/admin/agents":                {a.listAgents},
		"POST /api/admin/agents":               {a.createAgent},
		"GET /api/admin/agents/{id}":           {a.getAgent},
		"PATCH /api/admin/agents/{id}":         {a.patchAgent},
		"POST /api/admin/agents/{id}/password": {a.setPassword},
		"POST /api/admin/agents/{id}/disable":  {a.disableAgent},
		"GET /api/admin/queues":                {a.listQueues},
		"POST /api/admin/queues":               {a.createQueue},
		"GET /api/admin/queues/{id}":           {a.getQueue},
		"PATCH /api/admin/queues/{id}":         {a.patchQueue},
	})
}

type adminHandler struct {
	serve func(w http.ResponseWriter, r *http.Request, p *Principal) error
}

// mountAdminRoutes serves each pattern's handler to admins (session or
// admin token) only.
func (a *agentAPI) mountAdminRoutes(mux *http.ServeMux, routes map[string]adminHandler) {
	for pattern, fn := range routes {
		mux.Handle(pattern, a.Authenticate(a.requireRole(helpline.AgentRoleAdmin, func(w http.ResponseWriter, r *http.Request) {
			a.handle(w, r, func(p *Principal) error { return fn.serve(w, r, p) })
		})))
	}
}

// adminAgentJSON is an agent as an admin sees it: never its password
// hash, only whether it has one.
type adminAgentJSON struct {
	agentJSON
	Enabled     bool      `json:"enabled"`
	PasswordSet bool      `json:"password_set"`
	CreatedAt   time.Time `json:"created_at"`
}

func adminAgentOut(ag *helpline.Agent) adminAgentJSON {
	queues := ag.Queues
	if queues == nil {
		queues = []string{}
	}
	return adminAgentJSON{
		agentJSON: agentJSON{ID: ag.ID, Name: ag.DisplayName, Email: ag.Email, Role: ag.Role, Queues: queues, Capacity: ag.Capacity},
		Enabled:   ag.Enabled, PasswordSet: ag.PasswordHash != "", CreatedAt: ag.CreatedAt,
	}
}

func (a *agentAPI) listAgents(w http.ResponseWriter, r *http.Request, p *Principal) error {
	list, err := a.cfg.Agents.FindAgents(r.Context(), p.InstanceID)
	if err != nil {
		return err
	}
	out := make([]adminAgentJSON, 0, len(list))
	for _, ag := range list {
		out = append(out, adminAgentOut(ag))
	}
	writeJSON(w, http.StatusOK, map[string]any{"agents": out})
	return nil
}

func (a *agentAPI) createAgent(w http.ResponseWriter, r *http.Request, p *Principal) error {
	var in struct {
		ID       string   `json:"id"`
		Name     string   `json:"name"`
		Email    string   `json:"email"`
		Role     string   `json:"role"`
		Queues   []string `json:"queues"`
		Capacity int      `json:"capacity"`
		Password string   `json:"password"`
		Instance string   `json:"instance"`
	}
	if err := decode(r, &in); err != nil {
		return err
	} else if err := sameInstance(p, in.Instance); err != nil {
		return err
	}
	ag := &helpline.Agent{InstanceID: p.InstanceID, ID: in.ID, DisplayName: in.Name, Email: in.Email, Role: in.Role,
		Queues: in.Queues, Capacity: in.Capacity, Enabled: true, CreatedAt: a.now()}
	// Check before hashing: a bad agent costs no Argon2 run.
	ag.Normalize()
	if err := ag.Check(); err != nil {
		return err
	}
	if in.Password != "" {
		h, err := a.cfg.HashPassword(in.Password)
		if err != nil {
			return err
		}
		ag.PasswordHash = h
	}
	if err := a.cfg.Agents.CreateAgent(r.Context(), ag); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, adminAgentOut(ag))
	return nil
}

func (a *agentAPI) getAgent(w http.ResponseWriter, r *http.Request, p *Principal) error {
	ag, err := a.cfg.Agents.FindAgentByID(r.Context(), p.InstanceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, adminAgentOut(ag))
	return nil
}

func (a *agentAPI) patchAgent(w http.ResponseWriter, r *http.Request, p *Principal) error {
	var in struct {
		Name     *string   `json:"name"`
		Role     *string   `json:"role"`
		Queues   *[]string `json:"queues"`
		Capacity *int      `json:"capacity"`
		Enabled  *bool     `json:"enabled"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	ag, err := a.cfg.Agents.FindAgentByID(ctx, p.InstanceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if in.Name != nil {
		ag.DisplayName = *in.Name
	}
	if in.Role != nil {
		ag.Role = *in.Role
	}
	if in.Queues != nil {
		ag.Queues = *in.Queues
	}
	if in.Capacity != nil {
		ag.Capacity = *in.Capacity
		if ag.Capacity == 0 {
			return helpline.Errorf(helpline.EINVALID, "Agent capacity 0 is not between 1 and %d.", helpline.MaxCapacity)
		}
	}
	if in.Enabled != nil {
		ag.Enabled = *in.Enabled
	}
	if err := a.saveAgent(ctx, p, ag); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, adminAgentOut(ag))
	return nil
}

// saveAgent stores an admin's change to ag. An admin may not disable or
// demote itself, so that no admin locks itself out by a slip; a disabled
// agent's sessions and sockets end at once.
func (a *agentAPI) saveAgent(ctx context.Context, p *Principal, ag *helpline.Agent) error {
	if ag.ID == p.AgentID && (!ag.Enabled || ag.Role != helpline.AgentRoleAdmin) {
		return helpline.Errorf(helpline.ECONFLICT, "You may not disable or demote yourself; another admin may.")
	}
	if err := a.cfg.Agents.UpdateAgent(ctx, ag); err != nil {
		return err
	}
	if !ag.Enabled {
		return a.endAgentSessions(ctx, ag, "")
	}
	return nil
}

// endAgentSessions deletes ag's sessions but except and, when it keeps
// none, closes the sockets the agent opened: on this node at once, and on
// every node through the bus (EventSignedOut), which each node's socket
// hub heeds. The sessions are the store's, so no node lets them in again.
func (a *agentAPI) endAgentSessions(ctx context.Context, ag *helpline.Agent, except string) error {
	if err := a.cfg.Agents.DeleteAgentSessions(ctx, ag.InstanceID, ag.ID, except); err != nil {
		return err
	}
	if except != "" {
		return nil
	}
	a.sockets.hub.dropAgent(ag.InstanceID, ag.ID)
	if a.cfg.Bus != nil {
		ev := helpline.Event{Kind: helpline.EventSignedOut, Subject: helpline.AgentSubject(ag.ID),
			SignedOut: &helpline.SignedOut{InstanceID: ag.InstanceID}}
		if err := a.cfg.Bus.Publish(context.WithoutCancel(ctx), ev); err != nil {
			a.log.Error("agent sign-out: publish", "agent", ag.ID, "err", err)
		}
	}
	return nil
}

func (a *agentAPI) setPassword(w http.ResponseWriter, r *http.Request, p *Principal) error {
	var in struct {
		Password string `json:"password"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	ag, err := a.cfg.Agents.FindAgentByID(ctx, p.InstanceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if ag.PasswordHash, err = a.cfg.HashPassword(in.Password); err != nil {
		return err
	} else if err := a.cfg.Agents.UpdateAgent(ctx, ag); err != nil {
		return err
	}
	// An admin setting its own password stays logged in here.
	except := ""
	if ag.ID == p.AgentID && p.session != nil {
		except = p.session.ID
	}
	if err := a.endAgentSessions(ctx, ag, except); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *agentAPI) disableAgent(w http.ResponseWriter, r *http.Request, p *Principal) error {
	ctx := r.Context()
	ag, err := a.cfg.Agents.FindAgentByID(ctx, p.InstanceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	ag.Enabled = false
	if err := a.saveAgent(ctx, p, ag); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, adminAgentOut(ag))
	return nil
}

// duration is a time.Duration written as Go writes it: "30s", "10m".
type duration time.Duration

func (d duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = duration(v)
	return err
}

type adminQueueJSON struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Routing       string     `json:"routing"`
	AcceptWithin  duration   `json:"accept_within"`
	AutoAccept    bool       `json:"auto_accept"`
	ReassignAfter duration   `json:"reassign_after"`
	Hours         *hoursJSON `json:"hours"` // null: always open
	AwayMessage   string     `json:"away_message"`
	EndOutOfHours bool       `json:"end_out_of_hours"`
}

// hoursJSON is a queue's business hours as the configuration file writes
// a flow's: open periods "mon-fri 09:00-17:30", holidays "2025-12-25".
type hoursJSON struct {
	TimeZone string   `json:"time_zone"`
	Open     []string `json:"open"`
	Holidays []string `json:"holidays"`
}

// businessHours returns the hours h describes, nil for none; Queue.Check
// checks them.
func (h *hoursJSON) businessHours() (*helpline.BusinessHours, error) {
	if h == nil {
		return nil, nil
	} else if len(h.Open) == 0 {
		return nil, helpline.Errorf(helpline.EINVALID, "Hours need at least one open period, such as \"mon-fri 09:00-17:30\"; a queue that is always open has hours null.")
	}
	open, err := helpline.ParseOpenPeriods(h.Open)
	if err != nil {
		return nil, err
	}
	return &helpline.BusinessHours{TimeZone: h.TimeZone, Open: open, Holidays: h.Holidays}, nil
}

// optionalHours is PATCH's hours: left out (set false), null (none: always
// open) or hours.
type optionalHours struct {
	set   bool
	hours *hoursJSON
}

func (o *optionalHours) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(&o.hours)
}

func queueOut(q *helpline.Queue) adminQueueJSON {
	out := adminQueueJSON{ID: q.ID, Name: q.Name, Routing: q.Routing, AcceptWithin: duration(q.AcceptWithin),
		AutoAccept: q.AutoAccept, ReassignAfter: duration(q.ReassignAfter), AwayMessage: q.AwayMessage, EndOutOfHours: q.EndOutOfHours}
	if h := q.Hours; h != nil {
		out.Hours = &hoursJSON{TimeZone: h.TimeZone, Open: helpline.FormatOpenPeriods(h.Open), Holidays: h.Holidays}
		if out.Hours.Holidays == nil {
			out.Hours.Holidays = []string{}
		}
	}
	return out
}

func (a *agentAPI) listQueues(w http.ResponseWriter, r *http.Request, p *Principal) error {
	list, err := a.cfg.Agents.FindQueues(r.Context(), p.InstanceID)
	if err != nil {
		return err
	}
	out := make([]adminQueueJSON, 0, len(list))
	for _, q := range list {
		out = append(out, queueOut(q))
	}
	writeJSON(w, http.StatusOK, map[string]any{"queues": out})
	return nil
}

func (a *agentAPI) createQueue(w http.ResponseWriter, r *http.Request, p *Principal) error {
	var in struct {
		adminQueueJSON
		Instance string `json:"instance"`
	}
	if err := decode(r, &in); err != nil {
		return err
	} else if err := sameInstance(p, in.Instance); err != nil {
		return err
	}
	ctx := r.Context()
	if _, err := a.cfg.Agents.FindQueueByID(ctx, p.InstanceID, in.ID); err == nil {
		return helpline.Errorf(helpline.ECONFLICT, "Queue %s exists; change it with PATCH.", in.ID)
	} else if helpline.ErrorCode(err) != helpline.ENOTFOUND {
		return err
	}
	hours, err := in.Hours.businessHours()
	if err != nil {
		return err
	}
	q := &helpline.Queue{InstanceID: p.InstanceID, ID: in.ID, Name: in.Name, Routing: in.Routing,
		AcceptWithin: time.Duration(in.AcceptWithin), AutoAccept: in.AutoAccept, ReassignAfter: time.Duration(in.ReassignAfter),
		Hours: hours, AwayMessage: in.AwayMessage, EndOutOfHours: in.EndOutOfHours}
	if err := a.cfg.Agents.SaveQueue(ctx, q); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, queueOut(q))
	return nil
}

func (a *agentAPI) getQueue(w http.ResponseWriter, r *http.Request, p *Principal) error {
	q, err := a.cfg.Agents.FindQueueByID(r.Context(), p.InstanceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, queueOut(q))
	return nil
}

func (a *agentAPI) patchQueue(w http.ResponseWriter, r *http.Request, p *Principal) error {
	var in struct {
		Name          *string       `json:"name"`
		Routing       *string       `json:"routing"`
		AcceptWithin  *duration     `json:"accept_within"`
		AutoAccept    *bool         `json:"auto_accept"`
		ReassignAfter *duration     `json:"reassign_after"`
		Hours         optionalHours `json:"hours"`
		AwayMessage   *string       `json:"away_message"`
		EndOutOfHours *bool         `json:"end_out_of_hours"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	q, err := a.cfg.Agents.FindQueueByID(ctx, p.InstanceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if in.Name != nil {
		q.Name = *in.Name
	}
	if in.Routing != nil {
		q.Routing = *in.Routing
	}
	if in.AcceptWithin != nil {
		if q.AcceptWithin = time.Duration(*in.AcceptWithin); q.AcceptWithin <= 0 {
			return helpline.Errorf(helpline.EINVALID, "Queue accept_within must be positive and reassign_after not negative.")
		}
	}
	if in.AutoAccept != nil {
		q.AutoAccept = *in.AutoAccept
	}
	if in.ReassignAfter != nil {
		q.ReassignAfter = time.Duration(*in.ReassignAfter)
	}
	if in.Hours.set {
		if q.Hours, err = in.Hours.hours.businessHours(); err != nil {
			return err
		}
		if q.Hours == nil { // always open: nothing happens out of hours
			q.AwayMessage, q.EndOutOfHours = "", false
		}
	}
	if in.AwayMessage != nil {
		q.AwayMessage = *in.AwayMessage
	}
	if in.EndOutOfHours != nil {
		q.EndOutOfHours = *in.EndOutOfHours
	}
	if err := a.cfg.Agents.SaveQueue(ctx, q); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, queueOut(q))
	return nil
}

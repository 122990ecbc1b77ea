package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/helplinehq/helpline"
)

// The admin API for the customer chat widget, for an admin of the
// instance (a session with its CSRF token, or an admin API token):
//
//	GET   /api/admin/widget          the settings; the secret never, only secret_set
//	PATCH /api/admin/widget          {"flow_id","title","greeting","primary","on_primary","position",
//	                                  "allowed_origins","pre_chat":{"enabled","fields"},"away_message"}
//	                                 any subset; the settings afterwards
//	POST  /api/admin/widget/secret   a new identity-token secret, answered this once: {"secret"}
//
// An instance that has saved no settings has DefaultWidgetSettings. The
// settings are checked by WidgetSettings.Check: a bad one is 400 invalid
// naming the field, and nothing is saved.

func (a *agentAPI) mountWidgetAdmin(mux *http.ServeMux) {
	for pattern, fn := range map[string]adminHandler{
		"GET /api/admin/widget":         {a.getWidget},
		"PATCH /api/admin/widget":       {a.patchWidget},
		"POST /api/admin/widget/secret": {a.rotateWidgetSecret},
	} {
		mux.Handle(pattern, a.Authenticate(a.requireRole(helpline.AgentRoleAdmin, func(w http.ResponseWriter, r *http.Request) {
			a.handle(w, r, func(p *Principal) error { return fn.serve(w, r, p) })
		})))
	}
}

// widgetSettings returns the instance's saved settings, or its defaults.
func widgetSettings(ctx context.Context, store helpline.WidgetStore, instanceID, defaultInstance string) (*helpline.WidgetSettings, error) {
	ws, err := store.FindWidgetSettings(ctx, instanceID)
	if helpline.ErrorCode(err) == helpline.ENOTFOUND {
		// An instance named "default" is what the demo page embeds.
		return helpline.DefaultWidgetSettings(instanceID, instanceID == defaultInstance || instanceID == "default"), nil
	}
	return ws, err
}

// adminWidgetJSON is the settings as an admin sees them.
type adminWidgetJSON struct {
	InstanceID     string                   `json:"instance_id"`
	FlowID         string                   `json:"flow_id"`
	Title          string                   `json:"title"`
	Greeting       string                   `json:"greeting"`
	Primary        string                   `json:"primary"`
	OnPrimary      string                   `json:"on_primary"`
	Position       string                   `json:"position"`
	AllowedOrigins []string                 `json:"allowed_origins"`
	SecretSet      bool                     `json:"secret_set"`
	PreChat        helpline.PreChatSettings `json:"pre_chat"`
	AwayMessage    string                   `json:"away_message"`
	UpdatedAt      *time.Time               `json:"updated_at,omitempty"`
}

func adminWidgetOut(ws *helpline.WidgetSettings) adminWidgetJSON {
	out := adminWidgetJSON{InstanceID: ws.InstanceID, FlowID: ws.FlowID, Title: ws.Title, Greeting: ws.Greeting,
		Primary: ws.Primary, OnPrimary: ws.OnPrimary, Position: ws.Position, AllowedOrigins: ws.AllowedOrigins,
		SecretSet: ws.Secret != "", PreChat: ws.PreChat, AwayMessage: ws.AwayMessage}
	if out.AllowedOrigins == nil {
		out.AllowedOrigins = []string{}
	}
	if out.PreChat.Fields == nil {
		out.PreChat.Fields = []helpline.PreChatField{}
	}
	if !ws.UpdatedAt.IsZero() {
		out.UpdatedAt = &ws.UpdatedAt
	}
	return out
}

func (a *agentAPI) getWidget(w http.ResponseWriter, r *http.Request, p *Principal) error {
	ws, err := widgetSettings(r.Context(), a.cfg.Widgets, p.InstanceID, a.cfg.DefaultInstance)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, adminWidgetOut(ws))
	return nil
}

func (a *agentAPI) patchWidget(w http.ResponseWriter, r *http.Request, p *Principal) error {
	var in struct {
		FlowID         *string                   `json:"flow_id"`
		Title          *string                   `json:"title"`
		Greeting       *string                   `json:"greeting"`
		Primary        *string                   `json:"primary"`
		OnPrimary      *string                   `json:"on_primary"`
		Position       *string                   `json:"position"`
		AllowedOrigins *[]string                 `json:"allowed_origins"`
		PreChat        *helpline.PreChatSettings `json:"pre_chat"`
		AwayMessage    *string                   `json:"away_message"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	ws, err := widgetSettings(r.Context(), a.cfg.Widgets, p.InstanceID, a.cfg.DefaultInstance)
	if err != nil {
		return err
	}
	set(&ws.FlowID, in.FlowID)
	set(&ws.Title, in.Title)
	set(&ws.Greeting, in.Greeting)
	set(&ws.Primary, in.Primary)
	set(&ws.OnPrimary, in.OnPrimary)
	set(&ws.Position, in.Position)
	set(&ws.AllowedOrigins, in.AllowedOrigins)
	set(&ws.PreChat, in.PreChat)
	set(&ws.AwayMessage, in.AwayMessage)
	if err := ws.Check(); err != nil {
		return err
	}
	if ws.FlowID != "" && a.cfg.Instances != nil {
		in, err := a.cfg.Instances.FindInstanceByID(r.Context(), p.InstanceID)
		if err != nil {
			return err
		} else if in.FindFlow(ws.FlowID) == nil {
			return helpline.Errorf(helpline.EINVALID, "flow_id %q is no flow of the instance.", ws.FlowID)
		}
	}
	ws.UpdatedAt = a.now()
	if err := a.cfg.Widgets.SaveWidgetSettings(r.Context(), ws); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, adminWidgetOut(ws))
	return nil
}

// set sets *dst to *v when v is not nil: a PATCH field that was sent.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (a *agentAPI) rotateWidgetSecret(w http.ResponseWriter, r *http.Request, p *Principal) error {
	ws, err := widgetSettings(r.Context(), a.cfg.Widgets, p.InstanceID, a.cfg.DefaultInstance)
	if err != nil {
		return err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	ws.Secret = "hlw_" + base64.RawURLEncoding.EncodeToString(b)
	ws.UpdatedAt = a.now()
	if err := a.cfg.Widgets.SaveWidgetSettings(r.Context(), ws); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"secret": ws.Secret})
	return nil
}

// InstanceFinder finds instances; helpline.Store is one.
type InstanceFinder interface {
	FindInstanceByID(ctx context.Context, id string) (*helpline.Instance, error)
}

package storetest

import (
	"context"
	"reflect"
	"testing"

	"github.com/helplinehq/helpline"
)

func testWidgetSettings(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	t.Run("NotFoundUntilSaved", func(t *testing.T) {
		s := open(t)
		_, err := s.FindWidgetSettings(ctx, "i")
		wantNotFound(t, "FindWidgetSettings of an instance with none", err, helpline.ResourceWidget, "i")
	})
	t.Run("RoundTripAndReplace", func(t *testing.T) {
		s := open(t)
		ws := &helpline.WidgetSettings{
			InstanceID: "i", FlowID: "f1", Title: "Shop", Greeting: "Hello", Primary: "#112233", OnPrimary: "#ffffff",
			Position: helpline.WidgetLeft, AllowedOrigins: []string{"https://shop.example.com", "http://localhost:*"},
			Secret:      "s3cret",
			PreChat:     helpline.PreChatSettings{Enabled: true, Fields: []helpline.PreChatField{{Name: "order", Label: "Order", Type: "text", Required: true}}},
			AwayMessage: "Away", UpdatedAt: at(0),
		}
		other := &helpline.WidgetSettings{InstanceID: "j", Title: "Other", Primary: "#000000", OnPrimary: "#ffffff", Position: helpline.WidgetRight, UpdatedAt: at(0)}
		for _, w := range []*helpline.WidgetSettings{ws, other} {
			if err := s.SaveWidgetSettings(ctx, w); err != nil {
				t.Fatalf("SaveWidgetSettings(%s): %v", w.InstanceID, err)
			}
		}
		got, err := s.FindWidgetSettings(ctx, "i")
		if err != nil {
			t.Fatal(err)
		}
		if !got.UpdatedAt.Equal(ws.UpdatedAt) {
			t.Errorf("UpdatedAt %v, want %v", got.UpdatedAt, ws.UpdatedAt)
		}
		got.UpdatedAt = ws.UpdatedAt
		if !reflect.DeepEqual(got, ws) {
			t.Errorf("FindWidgetSettings = %+v, want %+v", got, ws)
		}
		changed := *ws
		changed.Title, changed.Secret, changed.AllowedOrigins, changed.UpdatedAt = "Shop 2", "", nil, at(1)
		if err := s.SaveWidgetSettings(ctx, &changed); err != nil {
			t.Fatal(err)
		}
		got, err = s.FindWidgetSettings(ctx, "i")
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != "Shop 2" || got.Secret != "" || len(got.AllowedOrigins) != 0 || !got.UpdatedAt.Equal(at(1)) {
			t.Errorf("after a replace: %+v", got)
		}
		if o, err := s.FindWidgetSettings(ctx, "j"); err != nil || o.Title != "Other" {
			t.Errorf("another instance's settings: %+v, %v", o, err)
		}
	})
}

package helpline

import (
	"strings"
	"testing"
)

func TestCheckOrigin(t *testing.T) {
	good := []string{"https://shop.example.com", "http://localhost:8080", "http://127.0.0.1:*", "https://[::1]:8443", "http://a.b"}
	bad := []string{"", "shop.example.com", "ftp://x.com", "https://x.com/", "https://x.com/path", "https://x.com?q", "https://x.com:0",
		"https://x.com:99999", "https://x.com:08", "https://user@x.com", "https://X.com", "https://", "https://x.com#f", "javascript://x.com"}
	for _, o := range good {
		if err := CheckOrigin(o); err != nil {
			t.Errorf("CheckOrigin(%q) = %v, want nil", o, err)
		}
	}
	for _, o := range bad {
		if err := CheckOrigin(o); ErrorCode(err) != EINVALID {
			t.Errorf("CheckOrigin(%q) = %v, want invalid", o, err)
		}
	}
}

func TestAllowsOrigin(t *testing.T) {
	ws := &WidgetSettings{AllowedOrigins: []string{"https://shop.example.com", "http://localhost:*"}}
	for origin, want := range map[string]bool{
		"https://shop.example.com":      true,
		"https://shop.example.com:8443": false,
		"http://shop.example.com":       false,
		"http://localhost:3000":         true,
		"http://localhost":              true,
		"http://localhost.evil.com":     false,
		"http://localhost:3000x":        false,
		"http://127.0.0.1:3000":         false,
		"null":                          false,
	} {
		if got := ws.AllowsOrigin(origin); got != want {
			t.Errorf("AllowsOrigin(%q) = %v, want %v", origin, got, want)
		}
	}
}

func TestWidgetSettingsCheck(t *testing.T) {
	if err := DefaultWidgetSettings("i", true).Check(); err != nil {
		t.Fatalf("the default settings fail their check: %v", err)
	}
	for name, change := range map[string]func(*WidgetSettings){
		"no title":      func(ws *WidgetSettings) { ws.Title = " " },
		"long greeting": func(ws *WidgetSettings) { ws.Greeting = strings.Repeat("x", 1001) },
		"colour name":   func(ws *WidgetSettings) { ws.Primary = "red" },
		"short colour":  func(ws *WidgetSettings) { ws.OnPrimary = "#fff" },
		"css injection": func(ws *WidgetSettings) { ws.Primary = "#000000;background:url(x)" },
		"position":      func(ws *WidgetSettings) { ws.Position = "top" },
		"origin path":   func(ws *WidgetSettings) { ws.AllowedOrigins = []string{"https://x.com/"} },
		"field name": func(ws *WidgetSettings) {
			ws.PreChat.Fields = []PreChatField{{Name: "Bad Name", Label: "x", Type: "text"}}
		},
		"reserved field": func(ws *WidgetSettings) {
			ws.PreChat.Fields = []PreChatField{{Name: "helpline_x", Label: "x", Type: "text"}}
		},
		"duplicate field": func(ws *WidgetSettings) { ws.PreChat.Fields = append(ws.PreChat.Fields, ws.PreChat.Fields[0]) },
		"field type":      func(ws *WidgetSettings) { ws.PreChat.Fields[0].Type = "password" },
		"field label":     func(ws *WidgetSettings) { ws.PreChat.Fields[0].Label = "" },
	} {
		ws := DefaultWidgetSettings("i", false)
		change(ws)
		if err := ws.Check(); ErrorCode(err) != EINVALID {
			t.Errorf("%s: Check = %v, want invalid", name, err)
		}
	}
}

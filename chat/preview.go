package chat

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"github.com/helplinehq/helpline"
)

// previewScan is how many of a contact's newest items OfferPreview reads
// to find the handoff and the customer's last message: a contact waiting
// in a queue has few items since its handoff.
const previewScan = 50

// OfferPreview reads the contact's attributes and its newest items: the
// last handoff EVENT and the customer's last message.
func (s *Service) OfferPreview(ctx context.Context, contactID string) (*helpline.OfferPreview, error) {
	c, err := s.store.FindContactByID(ctx, contactID)
	if err != nil {
		return nil, err
	}
	items, err := s.store.FindItems(ctx, contactID, helpline.ItemQuery{Backward: true, Limit: previewScan})
	if err != nil {
		return nil, err
	}
	p := &helpline.OfferPreview{Attributes: map[string]string{}}
	var ho *helpline.HandoffContext
	for _, it := range items { // newest first
		switch {
		case it.Type == helpline.ItemEvent && it.ContentType == helpline.EventHandoff && ho == nil:
			var hc helpline.HandoffContext
			if json.Unmarshal([]byte(it.Content), &hc) == nil {
				ho = &hc
			}
		case it.Type == helpline.ItemMessage && it.Role == helpline.RoleCustomer && p.LastQuestion == "" &&
			(it.ContentType == helpline.ContentPlain || it.ContentType == helpline.ContentMarkdown):
			p.LastQuestion = cutRunes(strings.TrimSpace(it.Content), helpline.OfferPreviewTextMax)
			p.CustomerName = it.DisplayName
		}
	}
	if ho != nil {
		p.Reason, p.Summary, p.Intents = ho.Reason, ho.Summary, ho.Intents
		for _, k := range sortedKeys(ho.Entities) {
			addAttribute(p, k, ho.Entities[k])
		}
		if p.CustomerName == "" {
			p.CustomerName = ho.Customer.Name
		}
	} else {
		p.Summary = c.Attributes[helpline.BotSummaryAttribute]
	}
	switch c.Attributes["helpline_identity_verified"] {
	case "true":
		p.Identity = helpline.IdentityVerified
	case "false":
		p.Identity = helpline.IdentityUnverified
	}
	for _, k := range sortedKeys(c.Attributes) {
		// Helpline's own and the bot's (bot_summary, bot_intent...) say
		// again what the preview says already.
		if !strings.HasPrefix(k, "helpline_") && !strings.HasPrefix(k, "bot_") {
			addAttribute(p, k, c.Attributes[k])
		}
	}
	return p, nil
}

// addAttribute adds k to the preview's attributes unless it holds k or
// is full; long values are cut.
func addAttribute(p *helpline.OfferPreview, k, v string) {
	if _, ok := p.Attributes[k]; ok || v == "" || len(p.Attributes) == helpline.OfferPreviewAttributesMax {
		return
	}
	p.Attributes[k] = cutRunes(v, helpline.OfferPreviewTextMax)
}

// cutRunes returns s cut to at most n runes, an ellipsis marking a cut.
func cutRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package bot

import (
	"fmt"
	"strings"
	"text/template"
)

// Policies is a policies file: the company's values (returns window,
// shipping costs...), the templated answers the e-commerce bot gives, and
// the rules that send a contact to a person. The shipped default is
// defaults/policies.yaml (DefaultPolicies); the app decodes it, or an
// instance's replacement, into this struct.
type Policies struct {
	Values  map[string]string `yaml:"values"`
	Answers map[string]string `yaml:"answers"`
	Handoff HandoffRules      `yaml:"handoff"`
}

// HandoffRules say when the e-commerce bot hands a contact to a person.
type HandoffRules struct {
	// Queue is where handed-off contacts go.
	Queue string `yaml:"queue"`
	// OnRequest: the customer asks for a person (intent human_agent).
	OnRequest bool `yaml:"on_request"`
	// LowConfidenceTurns in a row that the bot did not understand; 0 never.
	LowConfidenceTurns int `yaml:"low_confidence_turns"`
	// RefundAbove: a refund asked for with an amount above this; 0 never.
	RefundAbove float64 `yaml:"refund_above"`
	// DamagedItem: a return mentioning one of DamagedWords; the bot asks
	// for a photo and hands off once it arrives.
	DamagedItem  bool     `yaml:"damaged_item"`
	DamagedWords []string `yaml:"damaged_words"`
	// NegativeSentiment and Profanity: an angry or swearing customer.
	NegativeSentiment bool `yaml:"negative_sentiment"`
	Profanity         bool `yaml:"profanity"`
}

// answerKeys are the answers a policies file must give: one per intent
// the bot answers from policy, and the dialog's own lines.
var answerKeys = []string{
	"greeting", "order_status", "return_refund", "cancel_order", "change_address", "shipping_info",
	"payment_issue", "product_question", "goodbye", Fallback,
	"ask_order_number", "ask_email", "order_found", "order_not_found", "orders_unavailable", "ask_photo", "handoff",
}

// answers are a Policies' compiled answers.
type answers struct {
	templates map[string]*template.Template
	values    map[string]any
}

// compile parses every answer and renders it once with a sample order,
// so that a policies file with a missing answer, a template error or an
// unknown value fails when the bot is built, not in a chat.
func (p *Policies) compile() (*answers, error) {
	if p.Handoff.Queue == "" {
		return nil, fmt.Errorf("policies: handoff.queue is required")
	}
	a := &answers{templates: map[string]*template.Template{}, values: map[string]any{}}
	for k, v := range p.Values {
		a.values[k] = v
	}
	for _, key := range answerKeys {
		text, ok := p.Answers[key]
		if !ok || strings.TrimSpace(text) == "" {
			return nil, fmt.Errorf("policies: answers.%s is required", key)
		}
		tmpl, err := template.New(key).Option("missingkey=error").Parse(text)
		if err != nil {
			return nil, fmt.Errorf("policies: answers.%s: %w", key, err)
		}
		a.templates[key] = tmpl
	}
	sample := &Order{Number: "A1", Status: "shipped", Carrier: "UPS", TrackingURL: "https://example.com/t"}
	for _, key := range answerKeys {
		if _, err := a.render(key, sample); err != nil {
			return nil, fmt.Errorf("policies: answers.%s: %w", key, err)
		}
	}
	return a, nil
}

// render returns the answer key with the policy values and, under
// "order", the order's fields.
func (a *answers) render(key string, o *Order) (string, error) {
	data := make(map[string]any, len(a.values)+1)
	for k, v := range a.values {
		data[k] = v
	}
	if o != nil {
		data["order"] = map[string]string{
			"number": o.Number, "status": o.Status, "carrier": o.Carrier, "tracking_url": o.TrackingURL,
		}
	} else {
		data["order"] = map[string]string{"number": "", "status": "", "carrier": "", "tracking_url": ""}
	}
	tmpl, ok := a.templates[key]
	if !ok {
		return "", fmt.Errorf("no answer %q", key)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

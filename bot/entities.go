package bot

import (
	"regexp"
	"strings"
)

// Entity names in a Result's Entities.
const (
	EntityOrderNumber = "order_number"
	EntityEmail       = "email"
	EntityAmount      = "amount"
)

var (
	emailPattern = regexp.MustCompile(`(?i)\b[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}\b`)
	// An amount has a currency sign or word next to its number: "$45",
	// "45.50 EUR", "€ 12", "30 dollars".
	amountPattern = regexp.MustCompile(`(?i)(?:[$€£]\s?(\d{1,7}(?:[.,]\d{1,2})?)\b|\b(\d{1,7}(?:[.,]\d{1,2})?)\s?(?:[$€£]|(?:usd|eur|gbp|dollars?|euros?|pounds?|bucks)\b))`)
	// An order number is a run of 4 to 12 digits, optionally after "#",
	// or letters then digits ("A1234", "ORD-10023") of at least 4 digits.
	orderPattern = regexp.MustCompile(`(?i)(?:#\s?|\b)([a-z]{0,4}-?\d{4,12})\b`)
)

// Extract returns the entities of text: the first order number, email
// address and amount it mentions. Amounts are normalised to a decimal
// point ("12,50 €" is "12.50"); a number taken as an amount or inside an
// email is not also an order number.
func Extract(text string) map[string]string {
	out := map[string]string{}
	rest := text
	if m := emailPattern.FindString(rest); m != "" {
		out[EntityEmail] = strings.ToLower(m)
		rest = strings.ReplaceAll(rest, m, " ")
	}
	if m := amountPattern.FindStringSubmatch(rest); m != nil {
		v := m[1]
		if v == "" {
			v = m[2]
		}
		out[EntityAmount] = strings.Replace(v, ",", ".", 1)
		rest = strings.Replace(rest, m[0], " ", 1)
	}
	if m := orderPattern.FindStringSubmatch(rest); m != nil {
		out[EntityOrderNumber] = strings.ToUpper(m[1])
	}
	return out
}

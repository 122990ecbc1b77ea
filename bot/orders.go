package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Order is what the Orders endpoint answers about one order.
type Order struct {
	Number string `json:"number"`
	// Email is the address the order was placed with; the client returns
	// the order only when it matches the customer's.
	Email       string      `json:"email"`
	Status      string      `json:"status"`
	Carrier     string      `json:"carrier"`
	TrackingURL string      `json:"tracking_url"`
	Items       []OrderItem `json:"items"`
}

// OrderItem is one line of an order.
type OrderItem struct {
	Name     string `json:"name"`
	Quantity int    `json:"quantity"`
}

// ErrOrderNotFound is FindOrder's answer for an order that does not exist
// or was not placed with the given email: the two are not told apart, so
// that the bot never confirms an order number to a stranger.
var ErrOrderNotFound = errors.New("order not found")

// Orders finds a customer's order. FindOrder returns ErrOrderNotFound
// when number and email name no order; any other error means the lookup
// could not be made (the endpoint is down, slow or answers nonsense).
type Orders interface {
	FindOrder(ctx context.Context, number, email string) (*Order, error)
}

// OrdersClient is Orders over the documented HTTP contract:
//
//	GET {BaseURL}/orders/{number}?email={email}
//	Authorization: Bearer {Token}
//
// answering 200 with an Order as JSON (number, email, status, carrier,
// tracking_url, items[{name, quantity}]) or 404 when there is no such
// order for that email. Every other status, a timeout or a body that is
// not an Order is an error; the caller bounds the time with ctx.
type OrdersClient struct {
	BaseURL string
	Token   string
	// HTTP is the client to use; nil is http.DefaultClient.
	HTTP *http.Client
}

// maxOrderBody bounds the bytes read of an answer.
const maxOrderBody = 1 << 20

// FindOrder implements Orders. The order is returned only if the email
// it carries matches email (case aside), whatever the endpoint did with
// the query parameter.
func (c *OrdersClient) FindOrder(ctx context.Context, number, email string) (*Order, error) {
	if number == "" || email == "" {
		return nil, ErrOrderNotFound
	}
	u := strings.TrimRight(c.BaseURL, "/") + "/orders/" + url.PathEscape(number) + "?" + url.Values{"email": {email}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, ErrOrderNotFound
	default:
		return nil, fmt.Errorf("orders: GET /orders/{number}: %s", resp.Status)
	}
	var o Order
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxOrderBody)).Decode(&o); err != nil {
		return nil, fmt.Errorf("orders: decoding the order: %w", err)
	}
	if !strings.EqualFold(strings.TrimSpace(o.Email), email) {
		return nil, ErrOrderNotFound
	}
	return &o, nil
}

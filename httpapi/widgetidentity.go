package httpapi

import (
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/helplinehq/helpline"
)

// maxIdentityAge is how long after its iat an identity token is taken:
// the site mints one per page view, so an old one is a replayed one.
const maxIdentityAge = 10 * time.Minute

// identity is who a verified identity token says the customer is.
type identity struct {
	ExternalID, Email, Name string
}

type identityClaims struct {
	jwt.RegisteredClaims
	ExternalID string `json:"external_id"`
	Email      string `json:"email"`
	Name       string `json:"name"`
}

// verifyIdentity checks an identity token: HS256 only, signed with
// secret, exp and iat present, exp not passed and iat neither in the
// future nor older than maxIdentityAge (each give or take skew), and an
// external id (sub or external_id). Every refusal is 401 unauthorized
// saying why.
func verifyIdentity(token, secret string, now time.Time, skew time.Duration) (*identity, error) {
	refuse := func(why string) error {
		return helpline.Errorf(codeUnauthorized, "The identity token was refused: %s.", why)
	}
	if secret == "" {
		return nil, refuse("this widget has no identity secret set")
	}
	var c identityClaims
	p := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithLeeway(skew), jwt.WithTimeFunc(func() time.Time { return now }))
	_, err := p.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return []byte(secret), nil })
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, refuse("it is not a JWT")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, refuse("its signature does not verify, or its alg is not HS256")
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, refuse("it has expired")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return nil, refuse("its iat is in the future")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, refuse("it has no exp")
	case err != nil:
		return nil, refuse(err.Error())
	case c.IssuedAt == nil:
		return nil, refuse("it has no iat")
	case now.Sub(c.IssuedAt.Time) > maxIdentityAge+skew:
		return nil, refuse("it was issued more than 10 minutes ago")
	}
	id := &identity{ExternalID: c.Subject, Email: c.Email, Name: c.Name}
	if id.ExternalID == "" {
		id.ExternalID = c.ExternalID
	}
	switch {
	case id.ExternalID == "" || len(id.ExternalID) > 128:
		return nil, refuse("sub or external_id must be 1 to 128 characters")
	case id.Email != "" && !helpline.ValidEmail(id.Email):
		return nil, refuse("email is not an email address")
	case len(id.Name) > maxCustomerName:
		return nil, refuse("name is too long")
	}
	return id, nil
}

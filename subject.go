package sts

import (
	"context"
	"net/http"
)

// Token type URNs used as subject, actor and requested token types.
const (
	TokenTypeJWT          = "urn:ietf:params:oauth:token-type:jwt"
	TokenTypeIDToken      = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeSAML2        = "urn:ietf:params:oauth:token-type:saml2"
	TokenTypeAccessToken  = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeMTLS         = "urn:ietf:params:oauth:token-type:mtls"
	TokenTypeAWS4Request  = "urn:ietf:params:aws:token-type:aws4_request"
	TokenTypeIntermediary = "urn:ietf:params:oauth:token-type:access_boundary_intermediary_token"
)

// SubjectRequest describes the exchange a subject token is wanted for. Providers
// that need it (executables, AWS) read it; others ignore it.
type SubjectRequest struct {
	// Audience is the STS audience of the exchange.
	Audience string
	// SubjectTokenType is the token type the exchange will declare.
	SubjectTokenType string
	// ImpersonatedEmail is the service account that will be impersonated
	// after the exchange, or "".
	ImpersonatedEmail string
}

// SubjectTokenProvider supplies the subject token of a token exchange. It is
// called once per exchange, with the exchange's context; implementations must
// honour the context's deadline and be safe for concurrent use.
type SubjectTokenProvider interface {
	SubjectToken(ctx context.Context, req SubjectRequest) (string, error)
}

// SubjectTokenFunc adapts a function to a SubjectTokenProvider.
type SubjectTokenFunc func(ctx context.Context, req SubjectRequest) (string, error)

// SubjectToken calls f(ctx, req).
func (f SubjectTokenFunc) SubjectToken(ctx context.Context, req SubjectRequest) (string, error) {
	return f(ctx, req)
}

// sourceKinded is implemented by the package's providers to name themselves in
// the x-goog-api-client header ("file", "url", "executable", "aws", …).
type sourceKinded interface {
	sourceKind() string
}

// clientProvider is implemented by providers whose exchange must go over a
// particular HTTP client (X.509 federation uses mutual TLS). base is the
// configured client, or nil.
type clientProvider interface {
	exchangeClient(base *http.Client) (*http.Client, error)
}

func subjectKind(p SubjectTokenProvider) string {
	if k, ok := p.(sourceKinded); ok {
		return k.sourceKind()
	}
	return "custom"
}

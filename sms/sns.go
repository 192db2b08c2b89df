package sms

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/phoneauth/phoneauth"
)

var _ phoneauth.Sender = (*SNS)(nil)

// SNSConfig configures an SNS. Region is required. The credentials come
// from the AWS SDK's standard chain (AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared files, web identity,
// the container's or the instance's role) unless Credentials is set.
type SNSConfig struct {
	// Region is the AWS region whose SNS sends the messages, as
	// "us-east-1": one where SNS sends SMS.
	Region string

	// SenderID, if set, is sent as the AWS.SNS.SMS.SenderID attribute:
	// the name a recipient sees where sender IDs are supported. 1 to 11
	// letters, digits and hyphens, at least one a letter.
	SenderID string

	// Endpoint, if set, replaces the region's SNS endpoint: https, or http
	// to a loopback host (a local fake or relay).
	Endpoint string

	// Client sends the requests. Nil: NewHTTPClient(0), whose requests end
	// only with their context, and which ignores the proxy variables of
	// the environment.
	Client *http.Client

	// Credentials, if set, sign the requests instead of the standard
	// chain's: for tests, and for callers that get credentials their own
	// way.
	Credentials aws.CredentialsProvider
}

// Validate reports each field of c that NewSNS refuses as a *ConfigError,
// joined with errors.Join; nil if NewSNS accepts c. The errors never
// contain any part of the endpoint.
func (c SNSConfig) Validate() error {
	var errs []error
	switch {
	case c.Region == "":
		errs = append(errs, &ConfigError{Provider: "sns", Field: "Region", Problem: "is required"})
	case !awsRegion(c.Region):
		errs = append(errs, &ConfigError{Provider: "sns", Field: "Region", Problem: "must be an AWS region such as us-east-1"})
	}
	if c.SenderID != "" && !senderID(c.SenderID) {
		errs = append(errs, &ConfigError{Provider: "sns", Field: "SenderID", Problem: "must be 1 to 11 letters, digits and hyphens, at least one of them a letter"})
	}
	if c.Endpoint != "" {
		if err := CheckBaseURL(c.Endpoint); err != nil {
			errs = append(errs, &ConfigError{Provider: "sns", Field: "Endpoint", Problem: err.Error()})
		}
	}
	return errors.Join(errs...)
}

// awsRegion reports whether s has the shape of an AWS region name.
func awsRegion(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return strings.Contains(s, "-")
}

// senderID reports whether s is a sender ID SNS accepts.
func senderID(s string) bool {
	if len(s) > 11 {
		return false
	}
	letter := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			letter = true
		case r >= '0' && r <= '9', r == '-':
		default:
			return false
		}
	}
	return letter
}

// SNS sends each message with one Publish to a phone number through
// Amazon SNS, marked Transactional. Build it with NewSNS; it is safe for
// concurrent use.
//
// The SDK's own retries are off: one Send is one request. Retrying is
// the caller's choice, guided by the error's Temporary (see Retryable),
// so that a retry layer above the providers decides alone how often and
// when, rather than multiplying its tries by the SDK's.
type SNS struct {
	client   *sns.Client
	creds    aws.CredentialsProvider
	endpoint string // the endpoint's scheme and host, for errors
	attrs    map[string]types.MessageAttributeValue
}

// NewSNS returns an SNS for c. It returns the errors of c.Validate if c
// is not usable, or an error if the SDK's configuration (shared config
// files, AWS_* variables) cannot be loaded. It does not contact AWS: see
// CheckCredentials.
func NewSNS(c SNSConfig) (*SNS, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(c.Region),
		// Our retry layer retries; the SDK must not retry under it.
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if c.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(c.Credentials))
	}
	// The client is set after loading: the SDK refuses to load a custom CA
	// bundle (AWS_CA_BUNDLE, ca_bundle) with a client it did not build.
	cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("sms sns: load the AWS configuration: %w", err)
	}
	if c.Client != nil {
		cfg.HTTPClient = c.Client
	} else {
		cfg.HTTPClient = snsHTTPClient(cfg.HTTPClient)
	}
	s := &SNS{
		client: sns.NewFromConfig(cfg, func(o *sns.Options) {
			if c.Endpoint != "" {
				o.BaseEndpoint = aws.String(c.Endpoint)
			}
		}),
		creds:    cfg.Credentials,
		endpoint: "SNS in " + c.Region,
		attrs: map[string]types.MessageAttributeValue{
			"AWS.SNS.SMS.SMSType": {DataType: aws.String("String"), StringValue: aws.String("Transactional")},
		},
	}
	if c.Endpoint != "" {
		s.endpoint = endpoint(c.Endpoint)
	}
	if c.SenderID != "" {
		s.attrs["AWS.SNS.SMS.SenderID"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(c.SenderID)}
	}
	return s, nil
}

// snsHTTPClient returns NewHTTPClient(0), trusting the CA bundle of the
// AWS configuration if it has one: the SDK then loads it into loaded, a
// client of its own, which is otherwise nil.
func snsHTTPClient(loaded aws.HTTPClient) *http.Client {
	client := NewHTTPClient(0)
	if bc, ok := loaded.(*awshttp.BuildableClient); ok {
		if tlsc := bc.GetTransport().TLSClientConfig; tlsc != nil && tlsc.RootCAs != nil {
			client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: tlsc.RootCAs}
		}
	}
	return client
}

// CheckCredentials returns where the credentials come from (as
// "EnvConfigCredentials"), or an error if the chain yields none, so that
// a service without any stops at its start rather than at its first SMS.
// With the standard chain and nothing else set, it asks the instance
// metadata service, which may take until ctx ends.
func (s *SNS) CheckCredentials(ctx context.Context) (source string, err error) {
	if s.creds == nil {
		return "", errors.New("sms sns: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or give the host a role")
	}
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return "", fmt.Errorf("sms sns: no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or give the host a role): %w", err)
	}
	return creds.Source, nil
}

// Send publishes m.Text to the phone number m.To and returns nil once SNS
// has accepted it. Otherwise it returns a *ProviderError whose Code is
// SNS's error code: Temporary for throttling, SNS's internal errors, a
// 5xx and no answer; Undeliverable (wrapping phoneauth.ErrCannotReceiveSMS)
// when SNS refuses the phone number or reports it opted out; permanent
// otherwise (credentials, permissions, KMS), with a Reason an operator can
// act on. Errors never contain the credentials, the code, the text nor
// SNS's message, which repeats the number.
func (s *SNS) Send(ctx context.Context, m phoneauth.Message) error {
	_, err := s.client.Publish(ctx, &sns.PublishInput{
		PhoneNumber:       aws.String(m.To),
		Message:           aws.String(m.Text),
		MessageAttributes: s.attrs,
	})
	if err != nil {
		return s.error(err)
	}
	return nil
}

// snsCode is what one of SNS's error codes means for a send.
type snsCode struct {
	reason        string
	temporary     bool
	undeliverable bool
}

// snsCodes are the error codes of Publish and the errors common to AWS's
// query APIs that a send may get back. InvalidParameter and
// ParameterValueInvalid are read apart (see snsError).
var snsCodes = map[string]snsCode{
	"OptedOut": {reason: "the number has opted out of SMS from this AWS account", undeliverable: true},

	"Throttled":           {reason: "SNS throttled the account's requests", temporary: true},
	"Throttling":          {reason: "AWS throttled the account's requests", temporary: true},
	"ThrottlingException": {reason: "AWS throttled the account's requests", temporary: true},
	"KMSThrottling":       {reason: "KMS throttled SNS's requests for the account", temporary: true},
	"InternalError":       {reason: "SNS had an internal error", temporary: true},
	"InternalFailure":     {reason: "AWS had an internal failure", temporary: true},
	"ServiceUnavailable":  {reason: "SNS is unavailable", temporary: true},

	"AuthorizationError":    {reason: "the AWS credentials may not sns:Publish to phone numbers: check the IAM policy"},
	"AccessDenied":          {reason: "the AWS credentials may not sns:Publish to phone numbers: check the IAM policy"},
	"AccessDeniedException": {reason: "the AWS credentials may not sns:Publish to phone numbers: check the IAM policy"},
	"InvalidClientTokenId":  {reason: "AWS does not know the access key ID: check the AWS credentials"},
	"UnrecognizedClient":    {reason: "AWS does not know the access key ID: check the AWS credentials"},
	"SignatureDoesNotMatch": {reason: "AWS refused the request's signature: check the secret access key"},
	"IncompleteSignature":   {reason: "AWS refused the request's signature as incomplete"},
	"MissingAuthenticationToken": {
		reason: "the request carried no AWS credentials",
	},
	"ExpiredToken":     {reason: "the AWS session credentials have expired: renew them"},
	"RequestExpired":   {reason: "AWS found the request's time too far from its own: check the system clock"},
	"InvalidSecurity":  {reason: "SNS refused the request's security: use an https endpoint"},
	"OptInRequired":    {reason: "the AWS account is not subscribed to SNS"},
	"KMSAccessDenied":  {reason: "SNS may not use the KMS key: check the key's policy"},
	"KMSDisabled":      {reason: "the KMS key SNS uses is disabled"},
	"KMSInvalidState":  {reason: "the KMS key SNS uses is not in a state to be used"},
	"KMSNotFound":      {reason: "the KMS key SNS uses does not exist"},
	"KMSOptInRequired": {reason: "the AWS account is not subscribed to KMS"},
}

// error returns the *ProviderError of err, a failed Publish.
func (s *SNS) error(err error) *ProviderError {
	status := 0
	if re, ok := errors.AsType[*smithyhttp.ResponseError](err); ok {
		status = re.HTTPStatusCode()
	}
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		// The SDK's error and ae's message are left out: SNS's messages
		// repeat the phone number.
		return snsError(status, ae.ErrorCode(), ae.ErrorMessage())
	}
	if status != 0 {
		// An answer that is not SNS's, such as a proxy's error page.
		return statusError("sns", status, "", refusalReason("SNS", status))
	}
	canceled := errors.Is(err, context.Canceled)
	if se, ok := errors.AsType[*smithyhttp.RequestSendError](err); ok {
		cause := se.Err
		// A *url.Error repeats the whole URL; keep its cause.
		if ue, ok := errors.AsType[*url.Error](cause); ok {
			cause = ue.Err
		}
		return &ProviderError{Provider: "sns", Reason: "no answer from " + s.endpoint, Temporary: !canceled, Err: cause}
	}
	if canceled || errors.Is(err, context.DeadlineExceeded) {
		return &ProviderError{Provider: "sns", Reason: "no answer from " + s.endpoint, Temporary: !canceled, Err: ctxErr(err)}
	}
	// Signing (credentials that cannot be had) or building the request:
	// nothing was sent, and a retry may not do better.
	return &ProviderError{Provider: "sns", Reason: "the request could not be made", Err: err}
}

// ctxErr returns the context error err wraps.
func ctxErr(err error) error {
	if errors.Is(err, context.Canceled) {
		return context.Canceled
	}
	return context.DeadlineExceeded
}

// snsError returns the *ProviderError of an answer of SNS with status,
// error code and message. The message is read only to tell a refused
// phone number from another refused parameter, which SNS reports under
// the same code; it is never kept.
func snsError(status int, code, message string) *ProviderError {
	c, ok := snsCodes[code]
	switch {
	case ok:
	case code == "InvalidParameter" || code == "ParameterValueInvalid" || code == "InvalidParameterValue":
		lower := strings.ToLower(message)
		switch {
		case strings.Contains(lower, "opted out"):
			c = snsCodes["OptedOut"]
		case strings.Contains(lower, "phonenumber") || strings.Contains(lower, "phone number"):
			c = snsCode{reason: "SNS refused the phone number: it is invalid, or SNS does not send SMS to it from this region", undeliverable: true}
		default:
			c = snsCode{reason: "SNS refused a parameter of the message: check the sender ID"}
		}
	default:
		return statusError("sns", status, code, refusalReason("SNS", status))
	}
	return &ProviderError{
		Provider:      "sns",
		Status:        status,
		Code:          code,
		Reason:        c.reason,
		Temporary:     c.temporary,
		Undeliverable: c.undeliverable,
	}
}

package sms_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/phoneauth/phoneauth/sms"
)

const (
	snsAccessKey = "AKIDPHONEAUTHTEST"
	snsSecretKey = "hunter2/secret/access/key/for/the/tests"
)

// snsCredentials are static test credentials, so that no test asks the
// standard chain (which could try the instance metadata service).
var snsCredentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: snsAccessKey, SecretAccessKey: snsSecretKey, Source: "test"}, nil
})

// snsPublished is SNS's answer to a Publish it accepts, as its API
// reference shows it.
const snsPublished = `<PublishResponse xmlns="https://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult>
    <MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId>
  </PublishResult>
  <ResponseMetadata>
    <RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId>
  </ResponseMetadata>
</PublishResponse>`

// snsErrorResponse is SNS's answer refusing a request.
func snsErrorResponse(typ, code, message string) string {
	return `<ErrorResponse xmlns="https://sns.amazonaws.com/doc/2010-03-31/">
  <Error>
    <Type>` + typ + `</Type>
    <Code>` + code + `</Code>
    <Message>` + message + `</Message>
  </Error>
  <RequestId>9b1d8fa3-5ec1-5b0c-8f4e-7d0c3b3fbd7e</RequestId>
</ErrorResponse>`
}

func newSNS(t *testing.T, c sms.SNSConfig) *sms.SNS {
	t.Helper()
	if c.Credentials == nil {
		c.Credentials = snsCredentials
	}
	s, err := sms.NewSNS(c)
	if err != nil {
		t.Fatalf("NewSNS: %v", err)
	}
	return s
}

// snsAttribute is one message attribute of a Publish.
type snsAttribute struct{ DataType, StringValue string }

// snsPublish reads a Publish request as SNS's query protocol has it:
// every parameter but the message attributes, and the attributes by name.
// It fails t on a parameter that is not a Publish's, or an attribute
// entry that is not numbered from 1 with a name, a data type and a string
// value.
func snsPublish(t *testing.T, body []byte) (map[string]string, map[string]snsAttribute) {
	t.Helper()
	form, err := url.ParseQuery(string(body))
	if err != nil {
		t.Fatalf("body %q is not a form: %v", body, err)
	}
	params := map[string]string{}
	entries := map[string]map[string]string{}
	for k, v := range form {
		if len(v) != 1 {
			t.Errorf("parameter %s given %d times", k, len(v))
		}
		if rest, ok := strings.CutPrefix(k, "MessageAttributes.entry."); ok {
			n, field, _ := strings.Cut(rest, ".")
			if entries[n] == nil {
				entries[n] = map[string]string{}
			}
			entries[n][field] = v[0]
			continue
		}
		params[k] = v[0]
	}
	attrs := map[string]snsAttribute{}
	for i := 1; i <= len(entries); i++ {
		e := entries[strconv.Itoa(i)]
		if len(e) != 3 || e["Name"] == "" || e["Value.DataType"] == "" || e["Value.StringValue"] == "" {
			t.Errorf("attribute entry %d = %v, want Name, Value.DataType and Value.StringValue", i, e)
			continue
		}
		attrs[e["Name"]] = snsAttribute{e["Value.DataType"], e["Value.StringValue"]}
	}
	return params, attrs
}

func TestSNSPublishesTheDocumentedRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		senderID string
		want     map[string]snsAttribute
	}{
		{
			name: "transactional",
			want: map[string]snsAttribute{"AWS.SNS.SMS.SMSType": {"String", "Transactional"}},
		},
		{
			name:     "transactional, from a sender ID",
			senderID: "PhoneAuth",
			want: map[string]snsAttribute{
				"AWS.SNS.SMS.SMSType":  {"String", "Transactional"},
				"AWS.SNS.SMS.SenderID": {"String", "PhoneAuth"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newAPIFake(t, answering(http.StatusOK, snsPublished))
			s := newSNS(t, sms.SNSConfig{Region: "eu-west-1", SenderID: tt.senderID, Endpoint: api.url})
			m := loginMessage()
			m.Text = "Your code: 482913 & more"
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			req := api.only(t)
			if req.method != http.MethodPost || req.path != "/" || req.query != "" {
				t.Errorf("request = %s %s?%s, want POST /", req.method, req.path, req.query)
			}
			if got := req.header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type = %q, want application/x-www-form-urlencoded", got)
			}
			auth := req.header.Get("Authorization")
			if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+snsAccessKey+"/") ||
				!strings.Contains(auth, "/eu-west-1/sns/aws4_request, SignedHeaders=") ||
				!strings.Contains(auth, ", Signature=") {
				t.Errorf("Authorization = %q, want a SigV4 signature by the test key for sns in eu-west-1", auth)
			}
			if req.header.Get("X-Amz-Date") == "" {
				t.Error("no X-Amz-Date header: the signature has no time")
			}
			params, attrs := snsPublish(t, req.body)
			wantParams := map[string]string{
				"Action": "Publish", "Version": "2010-03-31",
				"PhoneNumber": "+15551234567", "Message": "Your code: 482913 & more",
			}
			if !reflect.DeepEqual(params, wantParams) {
				t.Errorf("parameters = %v, want %v", params, wantParams)
			}
			if !reflect.DeepEqual(attrs, tt.want) {
				t.Errorf("message attributes = %v, want %v", attrs, tt.want)
			}
		})
	}
}

func TestSNSClassifiesItsAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   refusal
	}{
		{
			"phone number refused: undeliverable", 400,
			snsErrorResponse("Sender", "InvalidParameter", "Invalid parameter: PhoneNumber Reason: +15551234567 is not valid to publish to"),
			refusal{400, "InvalidParameter", false, true},
		},
		{
			"phone number opted out: undeliverable", 400,
			snsErrorResponse("Sender", "InvalidParameter", "Invalid parameter: Phone number is opted out"),
			refusal{400, "InvalidParameter", false, true},
		},
		{
			"opted out, by its own code: undeliverable", 400,
			snsErrorResponse("Sender", "OptedOut", "Phone number +15551234567 is opted out"),
			refusal{400, "OptedOut", false, true},
		},
		{
			"sender ID refused: permanent", 400,
			snsErrorResponse("Sender", "ParameterValueInvalid", "Invalid parameter: SenderID"),
			refusal{400, "ParameterValueInvalid", false, false},
		},
		{
			"throttled: temporary", 429,
			snsErrorResponse("Sender", "Throttled", "Rate exceeded"),
			refusal{429, "Throttled", true, false},
		},
		{
			"AWS throttling, a 400: temporary", 400,
			snsErrorResponse("Sender", "ThrottlingException", "Rate exceeded"),
			refusal{400, "ThrottlingException", true, false},
		},
		{
			"internal error: temporary, tried once", 500,
			snsErrorResponse("Receiver", "InternalError", "Internal error"),
			refusal{500, "InternalError", true, false},
		},
		{
			"not allowed to publish: permanent", 403,
			snsErrorResponse("Sender", "AuthorizationError", "User: arn:aws:iam::123456789012:user/app is not authorized to perform: SNS:Publish"),
			refusal{403, "AuthorizationError", false, false},
		},
		{
			"unknown access key: permanent", 403,
			snsErrorResponse("Sender", "InvalidClientTokenId", "The security token included in the request is invalid."),
			refusal{403, "InvalidClientTokenId", false, false},
		},
		{
			"wrong secret key: permanent", 403,
			snsErrorResponse("Sender", "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."),
			refusal{403, "SignatureDoesNotMatch", false, false},
		},
		{
			"KMS key unusable: permanent", 400,
			snsErrorResponse("Sender", "KMSAccessDenied", "Access denied to the KMS key"),
			refusal{400, "KMSAccessDenied", false, false},
		},
		{
			"KMS throttling: temporary", 400,
			snsErrorResponse("Sender", "KMSThrottling", "Rate exceeded"),
			refusal{400, "KMSThrottling", true, false},
		},
		{
			"unknown code of a 4xx: permanent", 400,
			snsErrorResponse("Sender", "SomethingNew", "Something new for +15551234567"),
			refusal{400, "SomethingNew", false, false},
		},
		{
			"unknown code of a 5xx: temporary", 503,
			snsErrorResponse("Receiver", "ServiceBusy", "Busy"),
			refusal{503, "ServiceBusy", true, false},
		},
		{
			"a proxy's error page: temporary", 502,
			"<html><body>Bad gateway</body></html>",
			refusal{502, "", true, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newAPIFake(t, answering(tt.status, tt.body))
			s := newSNS(t, sms.SNSConfig{Region: "us-east-1", Endpoint: api.url})
			m := loginMessage()
			err := s.Send(context.Background(), m)
			checkRefusal(t, err, "sns", tt.want, snsAccessKey, snsSecretKey, m.Code, m.Text, m.To)
			api.only(t) // the SDK's own retries are off
		})
	}
}

func TestSNSWithoutAnAnswer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL
	srv.Close() // nothing listens there any more

	tests := []struct {
		name string
		ctx  func() context.Context
		want refusal
	}{
		{"connection refused: temporary", context.Background, refusal{temporary: true}},
		{"caller gone: not retried", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, refusal{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSNS(t, sms.SNSConfig{Region: "us-east-1", Endpoint: endpoint})
			checkRefusal(t, s.Send(tt.ctx(), loginMessage()), "sns", tt.want, snsAccessKey, snsSecretKey, "482913", "+15551234567")
		})
	}
}

func TestSNSCheckCredentials(t *testing.T) {
	t.Parallel()
	broken := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no credentials anywhere")
	})
	tests := []struct {
		name  string
		creds aws.CredentialsProvider
		want  string // in the error; "" for none
	}{
		{"credentials found", snsCredentials, ""},
		{"none: the variables to set are named", broken, "AWS_ACCESS_KEY_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSNS(t, sms.SNSConfig{Region: "us-east-1", Credentials: tt.creds, Endpoint: "http://127.0.0.1:1"})
			source, err := s.CheckCredentials(context.Background())
			switch {
			case tt.want == "" && (err != nil || source != "test"):
				t.Errorf("CheckCredentials = %q, %v; want test, nil", source, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("CheckCredentials error %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestSNSConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    sms.SNSConfig
		want []string // the fields refused, in order
	}{
		{"a region", sms.SNSConfig{Region: "us-east-1"}, nil},
		{"region, sender ID and local endpoint", sms.SNSConfig{Region: "ap-southeast-2", SenderID: "Acme-2", Endpoint: "http://[::1]:4566"}, nil},
		{"nothing", sms.SNSConfig{}, []string{"Region"}},
		{"not a region", sms.SNSConfig{Region: "US East"}, []string{"Region"}},
		{"sender ID over 11 characters", sms.SNSConfig{Region: "us-east-1", SenderID: "PhoneAuthService"}, []string{"SenderID"}},
		{"sender ID with a space", sms.SNSConfig{Region: "us-east-1", SenderID: "Phone Auth"}, []string{"SenderID"}},
		{"sender ID of digits only", sms.SNSConfig{Region: "us-east-1", SenderID: "12345"}, []string{"SenderID"}},
		{"endpoint in clear to a remote host", sms.SNSConfig{Region: "us-east-1", Endpoint: "http://sns.us-east-1.amazonaws.com"}, []string{"Endpoint"}},
		{"all wrong", sms.SNSConfig{SenderID: "no spaces please", Endpoint: "sns.internal"}, []string{"Region", "SenderID", "Endpoint"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.c.Validate()
			checkConfigFields(t, err, "sns", tt.want)
			if err != nil {
				if _, nerr := sms.NewSNS(tt.c); nerr == nil {
					t.Errorf("NewSNS accepts what Validate refuses: %v", err)
				}
				if strings.Contains(err.Error(), "amazonaws") || strings.Contains(err.Error(), "sns.internal") {
					t.Errorf("error repeats the endpoint: %v", err)
				}
			}
		})
	}
}

// Not parallel: it sets AWS_CA_BUNDLE, which the SDK reads from the
// process's environment.
func TestSNSTrustsTheCABundleOfTheAWSConfiguration(t *testing.T) {
	var published atomic.Bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		published.Store(true)
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(snsPublished))
	}))
	t.Cleanup(srv.Close)
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(bundle, pemCert, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", bundle)

	s := newSNS(t, sms.SNSConfig{Region: "us-east-1", Endpoint: srv.URL})
	if err := s.Send(context.Background(), loginMessage()); err != nil || !published.Load() {
		t.Fatalf("Send to an endpoint that the CA bundle vouches for: %v (published: %v)", err, published.Load())
	}
}

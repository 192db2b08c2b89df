package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/sms"
)

func TestLoadConfigReadsSNS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		want sms.SNSConfig
	}{
		{
			"every variable",
			map[string]string{"PHONEAUTH_SNS_REGION": "eu-west-1", "PHONEAUTH_SNS_SENDER_ID": "Acme", "PHONEAUTH_SNS_ENDPOINT": "https://sns.eu-west-1.amazonaws.com"},
			sms.SNSConfig{Region: "eu-west-1", SenderID: "Acme", Endpoint: "https://sns.eu-west-1.amazonaws.com"},
		},
		{
			"a region alone",
			map[string]string{"PHONEAUTH_SNS_REGION": "us-east-1"},
			sms.SNSConfig{Region: "us-east-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadConfig(env(merged(tt.vars, map[string]string{"PHONEAUTH_SMS_PROVIDER": "sns"})))
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if c.SMS.SNS != tt.want {
				t.Errorf("SNS config = %+v, want %+v", c.SMS.SNS, tt.want)
			}
		})
	}
}

func TestLoadConfigNamesEachBadSNSVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		want []string // the variables named, one per line of the error
	}{
		{"no region", map[string]string{}, []string{"PHONEAUTH_SNS_REGION"}},
		{"not a region", map[string]string{"PHONEAUTH_SNS_REGION": "Virginia"}, []string{"PHONEAUTH_SNS_REGION"}},
		{"sender ID with a space", map[string]string{"PHONEAUTH_SNS_REGION": "us-east-1", "PHONEAUTH_SNS_SENDER_ID": "Phone Auth"}, []string{"PHONEAUTH_SNS_SENDER_ID"}},
		{"endpoint in clear to a remote host", map[string]string{"PHONEAUTH_SNS_REGION": "us-east-1", "PHONEAUTH_SNS_ENDPOINT": "http://sns.hunter2.example"}, []string{"PHONEAUTH_SNS_ENDPOINT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(env(merged(tt.vars, map[string]string{"PHONEAUTH_SMS_PROVIDER": "sns"})))
			checkNamed(t, err, tt.want, "hunter2")
		})
	}
}

// awsTestEnv sets the AWS SDK's variables for a test, which must not be
// parallel: static credentials (none if keyID is ""), no shared files, no
// instance or container metadata and no endpoint of the environment, so
// that the SDK reaches nothing but the test's endpoint.
func awsTestEnv(t *testing.T, keyID, secret string) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":                      keyID,
		"AWS_SECRET_ACCESS_KEY":                  secret,
		"AWS_SESSION_TOKEN":                      "",
		"AWS_PROFILE":                            "",
		"AWS_DEFAULT_PROFILE":                    "",
		"AWS_CONFIG_FILE":                        filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE":            filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_ROLE_ARN":                           "",
		"AWS_ENDPOINT_URL":                       "",
		"AWS_ENDPOINT_URL_SNS":                   "",
	} {
		t.Setenv(k, v)
	}
}

// Not parallel: the AWS SDK reads its credentials from the process's
// environment.
func TestSNSProviderDeliversTheCode(t *testing.T) {
	awsTestEnv(t, "AKIDE2ETEST", "e2e-secret-access-key")
	got := make(chan sentSMS, 4)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("Action") != "Publish" || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDE2ETEST/") {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>no</Message></Error><RequestId>1</RequestId></ErrorResponse>`))
			return
		}
		got <- sentSMS{form.Get("PhoneNumber"), form.Get("Message")}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<PublishResponse xmlns="https://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId></PublishResult><ResponseMetadata><RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId></ResponseMetadata></PublishResponse>`))
	}))
	t.Cleanup(api.Close)
	in := start(t, map[string]string{
		"PHONEAUTH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "auth.db"),
		"PHONEAUTH_JWT_SECRET":   strings.Repeat("s", 32),
		"PHONEAUTH_SMS_PROVIDER": "sns",
		"PHONEAUTH_SNS_REGION":   "us-east-1",
		"PHONEAUTH_SNS_ENDPOINT": api.URL,
	})
	in.logs.wait(t, func(m map[string]any) bool {
		return m["msg"] == "sms sns: AWS credentials found" && m["source"] == "EnvConfigCredentials"
	})
	registerThroughProvider(t, in, "+14155550314", "+14155550314", got)
}

// Not parallel: the AWS SDK reads its credentials from the process's
// environment.
func TestSNSWithoutCredentialsDoesNotStart(t *testing.T) {
	awsTestEnv(t, "", "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := run(ctx, []string{"serve"}, env(map[string]string{
		"PHONEAUTH_ADDR":         "127.0.0.1:0",
		"PHONEAUTH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "auth.db"),
		"PHONEAUTH_SMS_PROVIDER": "sns",
		"PHONEAUTH_SNS_REGION":   "us-east-1",
		"PHONEAUTH_SNS_ENDPOINT": "http://127.0.0.1:1",
	}), nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("run = %v, want an error naming AWS_ACCESS_KEY_ID", err)
	}
}

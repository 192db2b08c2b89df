package main

import (
	"log/slog"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/sms"
)

// messageBirdVars names the variable behind each field that
// sms.MessageBirdConfig.Validate reports.
var messageBirdVars = map[string]string{
	"AccessKey":  "PHONEAUTH_MESSAGEBIRD_ACCESS_KEY",
	"Originator": "PHONEAUTH_MESSAGEBIRD_ORIGINATOR",
	"BaseURL":    "PHONEAUTH_MESSAGEBIRD_BASE_URL",
}

// readMessageBird reads the MessageBird variables, the access key as a
// secret, so that it may come from a file.
func readMessageBird(p *envParser, c *smsConfig) {
	c.MessageBird = sms.MessageBirdConfig{
		AccessKey:  p.secret("PHONEAUTH_MESSAGEBIRD_ACCESS_KEY", ""),
		Originator: p.getenv("PHONEAUTH_MESSAGEBIRD_ORIGINATOR"),
		BaseURL:    p.getenv("PHONEAUTH_MESSAGEBIRD_BASE_URL"),
	}
	failConfig(p, c.MessageBird.Validate(), messageBirdVars, "when PHONEAUTH_SMS_PROVIDER names messagebird")
}

func buildMessageBird(c smsConfig, _ *slog.Logger) (phoneauth.Sender, error) {
	return sms.NewMessageBird(c.MessageBird)
}

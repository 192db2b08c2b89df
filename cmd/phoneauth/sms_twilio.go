package main

import (
	"errors"
	"log/slog"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/sms"
)

// twilioVars names the variable behind each field that
// sms.TwilioConfig.Validate reports.
var twilioVars = map[string]string{
	"AccountSID":          "PHONEAUTH_TWILIO_ACCOUNT_SID",
	"AuthToken":           "PHONEAUTH_TWILIO_AUTH_TOKEN",
	"APIKeySID":           "PHONEAUTH_TWILIO_API_KEY_SID",
	"From":                "PHONEAUTH_TWILIO_FROM",
	"MessagingServiceSID": "PHONEAUTH_TWILIO_MESSAGING_SERVICE_SID",
	"BaseURL":             "PHONEAUTH_TWILIO_BASE_URL",
}

// readTwilio reads the Twilio variables. The SIDs and the token are
// read as secrets, so that each may come from a file; the SIDs name an
// account rather than open it, but they belong with the token.
func readTwilio(p *envParser, c *smsConfig) {
	c.Twilio = sms.TwilioConfig{
		AccountSID:          p.secret("PHONEAUTH_TWILIO_ACCOUNT_SID", ""),
		AuthToken:           p.secret("PHONEAUTH_TWILIO_AUTH_TOKEN", ""),
		APIKeySID:           p.secret("PHONEAUTH_TWILIO_API_KEY_SID", ""),
		From:                p.getenv("PHONEAUTH_TWILIO_FROM"),
		MessagingServiceSID: p.getenv("PHONEAUTH_TWILIO_MESSAGING_SERVICE_SID"),
		BaseURL:             p.getenv("PHONEAUTH_TWILIO_BASE_URL"),
	}
	// The sender is one of two variables, which failConfig cannot say.
	var rest []error
	for _, err := range joined(c.Twilio.Validate()) {
		e, ok := errors.AsType[*sms.ConfigError](err)
		switch {
		case ok && e.Field == "From" && e.Problem == "is required":
			p.fail("PHONEAUTH_TWILIO_FROM", "or PHONEAUTH_TWILIO_MESSAGING_SERVICE_SID is required when PHONEAUTH_SMS_PROVIDER names twilio")
		case ok && e.Field == "MessagingServiceSID" && c.Twilio.From != "":
			p.fail("PHONEAUTH_TWILIO_MESSAGING_SERVICE_SID", "and PHONEAUTH_TWILIO_FROM are both set: set one of them")
		default:
			rest = append(rest, err)
		}
	}
	failConfig(p, errors.Join(rest...), twilioVars, "when PHONEAUTH_SMS_PROVIDER names twilio")
}

func buildTwilio(c smsConfig, _ *slog.Logger) (phoneauth.Sender, error) {
	return sms.NewTwilio(c.Twilio)
}

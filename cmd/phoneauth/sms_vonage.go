package main

import (
	"log/slog"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/sms"
)

// vonageVars names the variable behind each field that
// sms.VonageConfig.Validate reports.
var vonageVars = map[string]string{
	"APIKey":    "PHONEAUTH_VONAGE_API_KEY",
	"APISecret": "PHONEAUTH_VONAGE_API_SECRET",
	"From":      "PHONEAUTH_VONAGE_FROM",
	"BaseURL":   "PHONEAUTH_VONAGE_BASE_URL",
}

// readVonage reads the Vonage variables, the key and secret as secrets,
// so that each may come from a file.
func readVonage(p *envParser, c *smsConfig) {
	c.Vonage = sms.VonageConfig{
		APIKey:    p.secret("PHONEAUTH_VONAGE_API_KEY", ""),
		APISecret: p.secret("PHONEAUTH_VONAGE_API_SECRET", ""),
		From:      p.getenv("PHONEAUTH_VONAGE_FROM"),
		BaseURL:   p.getenv("PHONEAUTH_VONAGE_BASE_URL"),
	}
	failConfig(p, c.Vonage.Validate(), vonageVars, "when PHONEAUTH_SMS_PROVIDER names vonage")
}

func buildVonage(c smsConfig, _ *slog.Logger) (phoneauth.Sender, error) {
	return sms.NewVonage(c.Vonage)
}

package main

import (
	"log/slog"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/sms"
)

// infobipVars names the variable behind each field of sms.InfobipConfig.
var infobipVars = map[string]string{
	"APIKey":  "PHONEAUTH_INFOBIP_API_KEY",
	"From":    "PHONEAUTH_INFOBIP_FROM",
	"BaseURL": "PHONEAUTH_INFOBIP_BASE_URL",
}

func readInfobip(p *envParser, c *smsConfig) {
	c.Infobip = sms.InfobipConfig{
		APIKey:  p.secret("PHONEAUTH_INFOBIP_API_KEY", ""),
		From:    p.getenv("PHONEAUTH_INFOBIP_FROM"),
		BaseURL: p.getenv("PHONEAUTH_INFOBIP_BASE_URL"),
	}
	failConfig(p, c.Infobip.Validate(), infobipVars, "when PHONEAUTH_SMS_PROVIDER names infobip")
}

func buildInfobip(c smsConfig, _ *slog.Logger) (phoneauth.Sender, error) {
	return sms.NewInfobip(c.Infobip)
}

package main

import (
	"errors"
	"log/slog"
	"strings"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/sms"
)

// telnyxVars names the variable behind each field of sms.TelnyxConfig.
var telnyxVars = map[string]string{
	"APIKey":             "PHONEAUTH_TELNYX_API_KEY",
	"From":               "PHONEAUTH_TELNYX_FROM",
	"MessagingProfileID": "PHONEAUTH_TELNYX_MESSAGING_PROFILE_ID",
	"BaseURL":            "PHONEAUTH_TELNYX_BASE_URL",
}

func readTelnyx(p *envParser, c *smsConfig) {
	c.Telnyx = sms.TelnyxConfig{
		APIKey:             p.secret("PHONEAUTH_TELNYX_API_KEY", ""),
		From:               p.getenv("PHONEAUTH_TELNYX_FROM"),
		MessagingProfileID: p.getenv("PHONEAUTH_TELNYX_MESSAGING_PROFILE_ID"),
		BaseURL:            p.str("PHONEAUTH_TELNYX_BASE_URL", sms.DefaultTelnyxBaseURL),
	}
	failConfig(p, namingVars(c.Telnyx.Validate(), telnyxVars), telnyxVars, "when PHONEAUTH_SMS_PROVIDER names telnyx")
}

func buildTelnyx(c smsConfig, _ *slog.Logger) (phoneauth.Sender, error) {
	return sms.NewTelnyx(c.Telnyx)
}

// namingVars returns err with every field of vars that the problem of a
// *sms.ConfigError names, as in From's "is required unless
// MessagingProfileID is set", replaced by its variable.
func namingVars(err error, vars map[string]string) error {
	var errs []error
	for _, e := range joined(err) {
		if ce, ok := errors.AsType[*sms.ConfigError](e); ok {
			renamed := *ce
			words := strings.Fields(renamed.Problem)
			for i, w := range words {
				if v, ok := vars[w]; ok {
					words[i] = v
				}
			}
			renamed.Problem = strings.Join(words, " ")
			e = &renamed
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

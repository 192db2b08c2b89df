package main

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/metrics"
	"github.com/phoneauth/phoneauth/sms"
)

// smsConfig is the SMS settings: the providers in the order they are
// tried, each one's configuration, and how delivery runs.
type smsConfig struct {
	// Providers are PHONEAUTH_SMS_PROVIDER's names, the first tried first.
	Providers      []string
	ConsoleAnyAddr bool
	Webhook        sms.WebhookConfig
	Twilio         sms.TwilioConfig
	Vonage         sms.VonageConfig
	MessageBird    sms.MessageBirdConfig
	Telnyx         sms.TelnyxConfig
	Infobip        sms.InfobipConfig
	SNS            sms.SNSConfig
	Concurrency    int // sends at once, whatever the provider
	Retries        int
	Timeout        time.Duration // a whole send, retries and failover included
	Text           sms.TextConfig
}

// provider is what the configuration knows of one SMS provider: how to
// read and check its variables, and how to build it from them.
type provider struct {
	// read reads the provider's variables into c and records what is
	// wrong with them in p.
	read func(p *envParser, c *smsConfig)
	// build returns the provider for c, which read has checked.
	build func(c smsConfig, log *slog.Logger) (phoneauth.Sender, error)
}

// providers are the SMS providers PHONEAUTH_SMS_PROVIDER may name.
var providers = map[string]provider{
	"console": {
		read: func(*envParser, *smsConfig) {},
		build: func(_ smsConfig, log *slog.Logger) (phoneauth.Sender, error) {
			return sms.NewConsole(log), nil
		},
	},
	"webhook":     {read: readWebhook, build: buildWebhook},
	"twilio":      {read: readTwilio, build: buildTwilio},
	"vonage":      {read: readVonage, build: buildVonage},
	"messagebird": {read: readMessageBird, build: buildMessageBird},
	"telnyx":      {read: readTelnyx, build: buildTelnyx},
	"infobip":     {read: readInfobip, build: buildInfobip},
	"sns":         {read: readSNS, build: buildSNS},
}

// providerNames returns the names of providers, sorted, for messages.
func providerNames() string {
	names := make([]string, 0, len(providers))
	for name := range providers {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// loadSMS reads the SMS settings. addr is PHONEAUTH_ADDR, or "" if it is
// not host:port (that is reported elsewhere).
func loadSMS(p *envParser, addr string) smsConfig {
	c := smsConfig{Concurrency: sms.DefaultConcurrency, Retries: sms.DefaultRetries, Timeout: sms.DefaultTimeout}
	named := false
	for _, name := range strings.Split(p.str("PHONEAUTH_SMS_PROVIDER", "console"), ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		named = true
		if _, ok := providers[name]; !ok {
			p.fail("PHONEAUTH_SMS_PROVIDER", fmt.Sprintf("%q is not a provider (%s)", name, providerNames()))
			continue
		}
		if slices.Contains(c.Providers, name) {
			p.fail("PHONEAUTH_SMS_PROVIDER", fmt.Sprintf("names %q twice", name))
			continue
		}
		c.Providers = append(c.Providers, name)
	}
	if !named {
		p.fail("PHONEAUTH_SMS_PROVIDER", "names no provider")
	}
	if len(c.Providers) > 1 && slices.Contains(c.Providers, "console") {
		p.fail("PHONEAUTH_SMS_PROVIDER", "names console with other providers: the console sends nothing, it is for development alone")
	}
	p.boolean("PHONEAUTH_SMS_CONSOLE_ANY_ADDR", &c.ConsoleAnyAddr)
	p.integer("PHONEAUTH_SMS_CONCURRENCY", &c.Concurrency)
	if err := sms.CheckConcurrency(c.Concurrency); err != nil {
		p.fail(p.quoted("PHONEAUTH_SMS_CONCURRENCY", err.Error()))
	}
	p.integer("PHONEAUTH_SMS_RETRIES", &c.Retries)
	if err := sms.CheckRetries(c.Retries); err != nil {
		p.fail(p.quoted("PHONEAUTH_SMS_RETRIES", err.Error()))
	}
	p.duration("PHONEAUTH_SMS_TIMEOUT", &c.Timeout)
	if err := sms.CheckTimeout(c.Timeout); err != nil {
		p.fail(p.quoted("PHONEAUTH_SMS_TIMEOUT", err.Error()))
	}
	c.Text = sms.TextConfig{
		Register:    p.getenv("PHONEAUTH_SMS_TEMPLATE_REGISTER"),
		Login:       p.getenv("PHONEAUTH_SMS_TEMPLATE_LOGIN"),
		AppName:     p.getenv("PHONEAUTH_SMS_APP_NAME"),
		Origin:      p.getenv("PHONEAUTH_SMS_ORIGIN"),
		AndroidHash: p.getenv("PHONEAUTH_SMS_ANDROID_HASH"),
	}
	_, err := sms.NewTexts(c.Text)
	failConfig(p, err, textVars, "")
	if slices.Contains(c.Providers, "console") && addr != "" && !c.ConsoleAnyAddr {
		if err := sms.CheckConsoleAddr(addr); err != nil {
			p.fail("PHONEAUTH_ADDR", fmt.Sprintf("%q %s. Set PHONEAUTH_SMS_PROVIDER to a real provider, or PHONEAUTH_SMS_CONSOLE_ANY_ADDR=true to serve with the console anyway", addr, err))
		}
	}
	for _, name := range c.Providers {
		providers[name].read(p, &c)
	}
	return c
}

// failConfig records the *sms.ConfigError values joined in err under the
// variable vars names for each field; when is what makes the field
// required, as "when PHONEAUTH_SMS_PROVIDER=twilio", added to an "is
// required" problem.
func failConfig(p *envParser, err error, vars map[string]string, when string) {
	failFields(p, err, func(e *sms.ConfigError) (string, string) {
		v := vars[e.Field]
		switch {
		case e.Problem == "is required" && when != "":
			return v, e.Problem + " " + when
		case e.AllowedBy != "":
			return v, e.Problem + " (or set " + vars[e.AllowedBy] + "=true)"
		}
		return v, e.Problem
	})
}

// textVars names the variable behind each field that sms.NewTexts
// reports.
var textVars = map[string]string{
	"Register":    "PHONEAUTH_SMS_TEMPLATE_REGISTER",
	"Login":       "PHONEAUTH_SMS_TEMPLATE_LOGIN",
	"Origin":      "PHONEAUTH_SMS_ORIGIN",
	"AndroidHash": "PHONEAUTH_SMS_ANDROID_HASH",
}

// webhookVars names the variable behind each field that
// sms.WebhookConfig.Validate reports.
var webhookVars = map[string]string{
	"URL":       "PHONEAUTH_SMS_WEBHOOK_URL",
	"Secret":    "PHONEAUTH_SMS_WEBHOOK_SECRET",
	"AllowHTTP": "PHONEAUTH_SMS_WEBHOOK_ALLOW_HTTP",
}

func readWebhook(p *envParser, c *smsConfig) {
	c.Webhook = sms.WebhookConfig{
		URL:    p.getenv("PHONEAUTH_SMS_WEBHOOK_URL"),
		Secret: p.secret("PHONEAUTH_SMS_WEBHOOK_SECRET", ""),
	}
	p.boolean("PHONEAUTH_SMS_WEBHOOK_ALLOW_HTTP", &c.Webhook.AllowHTTP)
	failConfig(p, c.Webhook.Validate(), webhookVars, "when PHONEAUTH_SMS_PROVIDER names webhook")
}

// buildWebhook returns the webhook provider. One without a secret is
// warned about at every start: its gateway cannot tell our requests from
// anyone's.
func buildWebhook(c smsConfig, log *slog.Logger) (phoneauth.Sender, error) {
	if c.Webhook.Secret == "" {
		log.Warn("PHONEAUTH_SMS_WEBHOOK_SECRET is not set: webhook requests are not signed, so the gateway cannot tell them from forged ones; set it in production")
	}
	return sms.NewWebhook(c.Webhook)
}

// newSender returns the SMS providers c names, tried in order with the
// retries and timeout of c, running at most c.Concurrency sends at once.
// With metrics, each try a provider is given is counted under its name (a
// send refused for want of a free slot never reaches one).
func newSender(c smsConfig, log *slog.Logger, m *metrics.Registry) (phoneauth.Sender, error) {
	var ps []sms.Provider
	for _, name := range c.Providers {
		s, err := providers[name].build(c, log)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if m != nil {
			s = m.Sender(s, name)
		}
		ps = append(ps, sms.Provider{Name: name, Sender: s})
	}
	d, err := sms.NewDelivery(sms.DeliveryConfig{Providers: ps, Retries: c.Retries, Timeout: c.Timeout, Log: log})
	if err != nil {
		return nil, err
	}
	return sms.NewCapped(d, c.Concurrency)
}

// newTexts returns the texts of the messages c configures, and warns once
// of each purpose whose message takes more than one SMS segment, since
// each segment is billed.
func newTexts(c smsConfig, policy phoneauth.Policy, log *slog.Logger) (*sms.Texts, error) {
	t, err := sms.NewTexts(c.Text)
	if err != nil {
		return nil, err
	}
	for purpose, n := range t.SegmentWarning(policy.CodeLength, policy.CodeTTL) {
		log.Warn("an SMS text takes more than one segment, and each segment is billed", "purpose", string(purpose), "segments", n)
	}
	return t, nil
}

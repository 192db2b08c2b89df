package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/phoneauth/phoneauth"
	"github.com/phoneauth/phoneauth/sms"
)

// snsVars names the variable behind each field of sms.SNSConfig that is
// read from the environment. The credentials are the AWS SDK's: its
// standard chain reads AWS_ACCESS_KEY_ID and the like itself.
var snsVars = map[string]string{
	"Region":   "PHONEAUTH_SNS_REGION",
	"SenderID": "PHONEAUTH_SNS_SENDER_ID",
	"Endpoint": "PHONEAUTH_SNS_ENDPOINT",
}

// snsCredentialsTimeout bounds the search for AWS credentials at start:
// the instance metadata service, last in the chain, answers within it
// where there is one.
const snsCredentialsTimeout = 15 * time.Second

func readSNS(p *envParser, c *smsConfig) {
	c.SNS = sms.SNSConfig{
		Region:   p.getenv("PHONEAUTH_SNS_REGION"),
		SenderID: p.getenv("PHONEAUTH_SNS_SENDER_ID"),
		Endpoint: p.getenv("PHONEAUTH_SNS_ENDPOINT"),
	}
	failConfig(p, c.SNS.Validate(), snsVars, "when PHONEAUTH_SMS_PROVIDER names sns")
}

// buildSNS returns the SNS provider once the AWS credentials are found, so
// that a service without any stops at its start, and logs where they come
// from.
func buildSNS(c smsConfig, log *slog.Logger) (phoneauth.Sender, error) {
	s, err := sms.NewSNS(c.SNS)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), snsCredentialsTimeout)
	defer cancel()
	source, err := s.CheckCredentials(ctx)
	if err != nil {
		return nil, err
	}
	log.Info("sms sns: AWS credentials found", slog.String("source", source), slog.String("region", c.SNS.Region))
	return s, nil
}

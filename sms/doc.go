// Package sms delivers one-time codes: each file is one provider
// implementing phoneauth.Sender. Console logs messages for development;
// Webhook posts them, signed per Standard Webhooks, to a gateway that sends
// the SMS; Twilio, Vonage, MessageBird, Telnyx and Infobip each speak their
// provider's HTTP API, and SNS publishes through the AWS SDK. Delivery
// retries a provider's temporary failures and fails over to the next
// provider; Capped runs at most so many sends at once. Texts writes the
// messages from templates, with the autofill lines of WebOTP and Android.
package sms

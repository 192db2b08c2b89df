// Package sms delivers one-time codes: each file is one provider
// implementing phoneauth.Sender. Console logs messages for development;
// Webhook posts them, signed per Standard Webhooks, to a gateway that
// sends the SMS. Capped runs at most so many sends of either at once.
package sms

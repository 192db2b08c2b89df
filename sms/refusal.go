package sms

import "net/http"

// refusalReason returns what an HTTP refusal by provider (its name as an
// operator knows it, "Telnyx") with status and no error code that we know
// means, written for the log.
func refusalReason(provider string, status int) string {
	switch {
	case status >= 300 && status <= 399:
		return "the base URL answers with a redirect, which is not followed: set the URL it points to"
	case status == http.StatusBadRequest:
		return provider + " refused the request as malformed"
	case status == http.StatusUnauthorized:
		return provider + " refused the credentials: check them"
	case status == http.StatusPaymentRequired:
		return provider + " refused for want of credit: top up the account"
	case status == http.StatusForbidden:
		return "the credentials may not send SMS: check their permissions"
	case status == http.StatusNotFound:
		return "the base URL does not lead to " + provider + "'s API: check it"
	case status == http.StatusTooManyRequests:
		return "too many requests for the account's rate limit"
	case status >= 500:
		return provider + " had a server error"
	}
	return provider + " refused the message"
}

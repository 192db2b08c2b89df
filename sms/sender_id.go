package sms

import (
	"strings"
	"unicode/utf8"
)

// alphanumericSenderMax is the most characters a sender ID of letters may
// have, in every provider's documentation: a number may be longer.
const alphanumericSenderMax = 11

// senderProblem returns what is wrong with a sender (a "from" or an
// "originator"): empty if it is a phone number or short code, or a
// sender ID of at most alphanumericSenderMax characters.
func senderProblem(sender string) string {
	digits := strings.TrimPrefix(sender, "+")
	if digits != "" && strings.Trim(digits, "0123456789") == "" {
		return ""
	}
	if n := utf8.RuneCountInString(sender); n > alphanumericSenderMax {
		return "is an alphanumeric sender ID of more than 11 characters, the most a sender ID may have; use a shorter name or a phone number"
	}
	return ""
}

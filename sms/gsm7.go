package sms

import (
	"strings"
	"unicode/utf8"
)

// gsm7Chars are the characters of the GSM 03.38 default alphabet, and of
// its extension table, which a GSM-7 message writes with an escape.
const gsm7Chars = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà" +
	"\f^{}\\[~]|€"

// isGSM7 reports whether text can be sent as GSM-7, the 7-bit encoding a
// provider uses by default. Any other text must be sent as Unicode (UCS-2),
// which the providers that do not choose the encoding themselves must be
// told: they would otherwise replace the characters GSM-7 lacks.
func isGSM7(text string) bool {
	for _, r := range text {
		if r == utf8.RuneError || !strings.ContainsRune(gsm7Chars, r) {
			return false
		}
	}
	return true
}

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

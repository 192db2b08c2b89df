package phoneauth

import (
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ParsePhone reads a phone number as a person might write it and returns it
// in E.164 form, which ParsePhone reads back as itself in any region. A
// number without a leading + is read in defaultRegion (an ISO 3166 code
// such as "US"). ErrInvalidPhone if it is not a valid number.
func ParsePhone(raw, defaultRegion string) (string, error) {
	e164, _, err := parsePhone(raw, defaultRegion)
	return e164, err
}

// parsePhone is ParsePhone, returning the parsed number too.
func parsePhone(raw, defaultRegion string) (string, *phonenumbers.PhoneNumber, error) {
	e164, n, err := parseE164(raw, defaultRegion)
	if err != nil {
		return "", nil, err
	}
	// An account is found by the number it was stored under, so that
	// number must read back as itself; libphonenumber's leading zeros make
	// a few impossible inputs (000000000 in BY) read otherwise. A number
	// typed in E.164 already is its own reading.
	if strings.TrimSpace(raw) != e164 {
		if again, _, err := parseE164(e164, defaultRegion); err != nil || again != e164 {
			return "", nil, ErrInvalidPhone
		}
	}
	return e164, n, nil
}

// parseE164 is parsePhone without the check that its answer reads back as
// itself.
func parseE164(raw, defaultRegion string) (string, *phonenumbers.PhoneNumber, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 64 {
		return "", nil, ErrInvalidPhone
	}
	n, err := phonenumbers.Parse(raw, strings.ToUpper(defaultRegion))
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrInvalidPhone, err)
	}
	// IsPossibleNumber checks the country code and that the length fits
	// that country's plan. The stricter IsValidNumber also rejects numbers
	// outside assigned ranges, such as the +1 555 numbers apps use in
	// testing, which the contract's own examples use.
	if !phonenumbers.IsPossibleNumber(n) {
		return "", nil, ErrInvalidPhone
	}
	e164 := phonenumbers.Format(n, phonenumbers.E164)
	// E.164 allows 15 digits at most, but some plans' possible lengths
	// (Germany's) run past it.
	if len(e164) > len("+")+15 {
		return "", nil, ErrInvalidPhone
	}
	return e164, n, nil
}

// canReceiveSMS reports whether the number n, of region (as
// phonenumbers.GetRegionCodeForNumber names it), may be sent a code: a
// valid number (not merely a possible one) that libphonenumber types as
// mobile, or as fixed-line-or-mobile where a plan does not tell them
// apart, in one of regions ("*" allows every region). Premium-rate,
// toll-free, shared-cost, VoIP, personal, pager, UAN and voicemail numbers
// are the ranges SMS pumping is paid through.
func canReceiveSMS(n *phonenumbers.PhoneNumber, region string, regions []string) bool {
	allowed := false
	for _, r := range regions {
		if r == "*" || strings.EqualFold(r, region) {
			allowed = true
			break
		}
	}
	// The cheap test first: the others run libphonenumber's expressions.
	if !allowed || !phonenumbers.IsValidNumberForRegion(n, region) {
		return false
	}
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
		return true
	}
	return false
}

// numberRange is a number without its last four digits: the block that
// one operator leases, and the unit SMS pumping works through.
func numberRange(e164 string) string {
	if len(e164) <= 8 {
		return e164
	}
	return e164[:len(e164)-4]
}

// ValidRegion reports whether region is a region the numbering plan knows.
func ValidRegion(region string) bool {
	return phonenumbers.GetCountryCodeForRegion(strings.ToUpper(region)) != 0
}

// maskPhone keeps the country code and last two digits, for error context
// and logs.
func maskPhone(e164 string) string {
	if len(e164) <= 5 {
		return "***"
	}
	return e164[:2] + "***" + e164[len(e164)-2:]
}

// MaskPhone is how an Event shows the E.164 number e164: its first two
// and last two characters, for a Store's caller that records an Event
// itself (Store.RecordEvent), such as an operator's command.
func MaskPhone(e164 string) string { return maskPhone(e164) }

package phoneauth

import (
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// phoneClass is what the service needs to know of a number as typed:
// its E.164 form, its region, and whether it may be sent a code.
type phoneClass struct {
	phone      string // E.164; empty if the number is not valid
	region     string // ISO 3166, "" when the plan names none
	canReceive bool   // valid, mobile (or fixed-line-or-mobile), in the SMS regions
}

// classify reads raw in the service's region and classifies it as
// canReceiveSMS does, through s.phones. ErrInvalidPhone if raw is not a
// valid number.
func (s *Service) classify(raw string) (phoneClass, error) {
	raw = strings.TrimSpace(raw)
	if c, ok := s.phones.get(raw); ok {
		if c.phone == "" {
			return c, ErrInvalidPhone
		}
		return c, nil
	}
	var c phoneClass
	phone, n, err := parsePhone(raw, s.region)
	if err == nil {
		c = phoneClass{phone: phone, region: phonenumbers.GetRegionCodeForNumber(n)}
		c.canReceive = canReceiveSMS(n, c.region, s.smsRegions)
	}
	s.phones.put(raw, c)
	return c, err
}

// phoneCache remembers the classes of the numbers last seen, so that
// libphonenumber (tens of microseconds a number, most of it in regular
// expressions) reads a number once for its registration, its logins and
// its resends. It keeps two generations of at most max entries: when the
// current one is full it becomes the old one and the one before goes, so
// a number seen in either stays, and memory stays within 2*max entries.
type phoneCache struct {
	mu       sync.Mutex
	max      int
	cur, old map[string]phoneClass
}

func newPhoneCache(max int) *phoneCache {
	return &phoneCache{max: max, cur: make(map[string]phoneClass)}
}

func (c *phoneCache) get(raw string) (phoneClass, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[raw]; ok {
		return v, true
	}
	v, ok := c.old[raw]
	return v, ok
}

func (c *phoneCache) put(raw string, v phoneClass) {
	if len(raw) > 64 {
		return // not a number anyone types: not worth a slot
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cur) >= c.max {
		c.old, c.cur = c.cur, make(map[string]phoneClass, c.max)
	}
	c.cur[raw] = v
}

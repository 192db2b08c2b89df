package phoneauth

import (
	"strings"
	"testing"
)

func TestPhoneCacheKeepsTwoGenerations(t *testing.T) {
	t.Parallel()
	c := newPhoneCache(2)
	c.put("a", phoneClass{phone: "+1"})
	c.put("b", phoneClass{phone: "+2"})
	c.put("c", phoneClass{phone: "+3"}) // a and b become the old generation
	for _, k := range []string{"a", "b", "c"} {
		if _, ok := c.get(k); !ok {
			t.Errorf("%s was forgotten too early", k)
		}
	}
	c.put("d", phoneClass{phone: "+4"})
	c.put("e", phoneClass{phone: "+5"}) // c and d old, a and b gone
	if _, ok := c.get("a"); ok {
		t.Error("a outlived two generations")
	}
	if v, ok := c.get("d"); !ok || v.phone != "+4" {
		t.Errorf("d = %v, %v", v, ok)
	}
	c.put(strings.Repeat("9", 65), phoneClass{})
	if _, ok := c.get(strings.Repeat("9", 65)); ok {
		t.Error("an input no one types took a slot")
	}
}

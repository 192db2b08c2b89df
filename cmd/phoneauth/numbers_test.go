package main

import (
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// TestBlocksCanReceiveSMS checks, on a sample of each block's numbers
// (four exchanges from first to last, a line each), what the service checks before it sends
// a code: a valid US number of type mobile or fixed-line-or-mobile. A
// block that failed would make bench and seed accounts the service
// refuses to sign in.
func TestBlocksCanReceiveSMS(t *testing.T) {
	t.Parallel()
	for _, b := range blocks() {
		for _, x := range []int{0, 33, 66, 99} {
			i := x*10000 + (x*7919)%10000
			n := b.number(i)
			p, err := phonenumbers.Parse(n, "US")
			if err != nil || !phonenumbers.IsValidNumber(p) {
				t.Fatalf("%s (index %d of block %s) is not a valid number", n, i, b)
			}
			switch typ := phonenumbers.GetNumberType(p); typ {
			case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
			default:
				t.Fatalf("%s (block %s) is of type %v, not mobile", n, b, typ)
			}
			if r := phonenumbers.GetRegionCodeForNumber(p); r != "US" {
				t.Fatalf("%s (block %s) is in region %s, not US", n, b, r)
			}
		}
	}
}

func TestBlockNumber(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		i    int
		want string
	}{{0, "+14152000000"}, {42, "+14152000042"}, {999999, "+14152999999"}} {
		if got := numberBlock("+14152").number(tt.i); got != tt.want {
			t.Errorf("number(%d) = %s, want %s", tt.i, got, tt.want)
		}
	}
	if _, err := parseBlock("+14155"); err == nil {
		t.Error("parseBlock(+14155) accepted a block with exchanges in 555")
	}
	if b, err := parseBlock("+14152"); err != nil || b != "+14152" {
		t.Errorf("parseBlock(+14152) = %q, %v", b, err)
	}
}

package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// The numbers phoneauth seed and phoneauth bench give their accounts.
// The service sends codes only to numbers libphonenumber finds valid and
// of a mobile type, so the range the North American plan reserves for
// fiction (555-0100 to 555-0199, a hundred numbers per area code) is far
// too small, and the +1 555 010 xxxx numbers of the contract's examples
// are refused. So seed and bench use blocks of ordinary-looking US
// numbers: "+1", an area code and the first digit of an exchange, then
// six free digits, a million numbers per block. No SMS reaches them: the
// server under a benchmark sends its codes to the bench's webhook, and
// seed writes to the database alone. numbers_test.go checks that the
// service would send codes to every block.

// blockSize is how many numbers one block holds.
const blockSize = 1_000_000

// blockAreas and blockExchanges make the blocks: each area code with each
// first digit of an exchange. 5 is left out, so that no number falls in
// 555 (directory assistance, and the fictional 555-01xx).
var (
	blockAreas     = []string{"201", "206", "212", "213", "303", "305", "312", "404", "415", "503", "512", "602", "617", "628", "646", "702", "718", "720", "773", "818", "917", "929"}
	blockExchanges = []string{"2", "3", "4", "6", "7", "8", "9"}
)

// numberBlock is a block of numbers, named by its prefix, as "+14152".
type numberBlock string

// blocks returns every block, in order.
func blocks() []numberBlock {
	var all []numberBlock
	for _, a := range blockAreas {
		for _, e := range blockExchanges {
			all = append(all, numberBlock("+1"+a+e))
		}
	}
	return all
}

// shuffledBlocks returns every block in a random order: each run takes
// the first one no earlier run took.
func shuffledBlocks() []numberBlock {
	all := blocks()
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	return all
}

// parseBlock returns the block prefix names, which must be one of blocks.
func parseBlock(prefix string) (numberBlock, error) {
	b := numberBlock(strings.TrimSpace(prefix))
	if !slices.Contains(blocks(), b) {
		return "", fmt.Errorf("%q is not a block of numbers phoneauth seed and bench use: \"+1\", one of the area codes %s, and an exchange's first digit (%s), as +14152",
			prefix, strings.Join(blockAreas, " "), strings.Join(blockExchanges, ""))
	}
	return b, nil
}

// number returns the number of index i (0 to blockSize-1) in b.
func (b numberBlock) number(i int) string {
	buf := make([]byte, 0, len(b)+6)
	buf = append(buf, b...)
	digits := strconv.AppendInt(make([]byte, 0, 6), int64(i), 10)
	for range 6 - len(digits) {
		buf = append(buf, '0')
	}
	return string(append(buf, digits...))
}

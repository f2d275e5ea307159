package authz

import "math/bits"

// bitset is a set of small non-negative integers that keeps the first 256
// inline, so that per-request sets of roles, mappings, conditions and
// filter grants do not allocate in realistic policies.
type bitset struct {
	w    [4]uint64
	more []uint64
}

func (b *bitset) set(i int) {
	if i < 256 {
		b.w[i>>6] |= 1 << (i & 63)
		return
	}
	j := (i - 256) >> 6
	if j >= len(b.more) {
		// Not append: it would make escape analysis move every value
		// holding a bitset to the heap.
		more := make([]uint64, j+1)
		copy(more, b.more)
		b.more = more
	}
	b.more[j] |= 1 << (i & 63)
}

func (b *bitset) has(i int) bool {
	if i < 256 {
		return b.w[i>>6]&(1<<(i&63)) != 0
	}
	j := (i - 256) >> 6
	return j < len(b.more) && b.more[j]&(1<<(i&63)) != 0
}

func (b *bitset) empty() bool {
	for _, w := range b.w {
		if w != 0 {
			return false
		}
	}
	for _, w := range b.more {
		if w != 0 {
			return false
		}
	}
	return true
}

// each calls f for every member in increasing order until f returns false.
func (b *bitset) each(f func(i int) bool) {
	for wi := 0; wi < len(b.w)+len(b.more); wi++ {
		var w uint64
		if wi < len(b.w) {
			w = b.w[wi]
		} else {
			w = b.more[wi-len(b.w)]
		}
		for bit := 0; w != 0; bit++ {
			if w&1 != 0 && !f(wi*64+bit) {
				return
			}
			w >>= 1
		}
	}
}

// len returns the number of members.
func (b *bitset) len() int {
	n := 0
	for _, w := range b.w {
		n += bits.OnesCount64(w)
	}
	for _, w := range b.more {
		n += bits.OnesCount64(w)
	}
	return n
}

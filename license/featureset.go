package license

// featureSet is the set of entitled feature names.
//
// HasFeature sits on the path of every gated request and has a budget of
// 20 ns, so instead of a map, whose string hashing is most of the cost of a
// lookup, this is a small open-addressing table indexed by a cheap hash of the
// name's length and three of its bytes: one slot read and usually one string
// comparison. The table is kept at least four times larger than the set so
// probes stay short; a collision costs a comparison more, never a wrong
// answer. The set is built once per snapshot and never changed.
type featureSet struct {
	slots []string // "" marks an empty slot; the empty name is never stored
	mask  uint32
}

func newFeatureSet(names []string) featureSet {
	size := 8
	for size < 4*len(names) {
		size *= 2
	}
	s := featureSet{slots: make([]string, size), mask: uint32(size - 1)}
	for _, name := range names {
		if name == "" {
			continue
		}
		i := featureHash(name) & s.mask
		for s.slots[i] != "" && s.slots[i] != name {
			i = (i + 1) & s.mask
		}
		s.slots[i] = name
	}
	return s
}

// featureHash mixes the length with the first, middle and last bytes, which
// tell feature names apart well (audit_logs, ai_analysis, rookery.sso_...).
func featureHash(name string) uint32 {
	n := len(name)
	return uint32(n)*0x9E3779B1 ^ uint32(name[0])*0x85EBCA6B ^ uint32(name[n/2])*0x27D4EB2F ^ uint32(name[n-1])*0xC2B2AE35
}

func (s featureSet) has(name string) bool {
	if name == "" || len(s.slots) == 0 {
		return false
	}
	// The table always has empty slots, so the probe ends.
	for i := featureHash(name) & s.mask; ; i = (i + 1) & s.mask {
		switch s.slots[i] {
		case name:
			return true
		case "":
			return false
		}
	}
}

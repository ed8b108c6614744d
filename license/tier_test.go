package license

import (
	"encoding/json"
	"testing"
)

func TestParseTier(t *testing.T) {
	tests := []struct {
		in    string
		want  Tier
		known bool
	}{
		{"community", Community, true},
		{"free", Community, true},
		{"FREE", Community, true},
		{"professional", Professional, true},
		{"pro", Professional, true},
		{" Professional ", Professional, true},
		{"enterprise", Enterprise, true},
		{"Enterprise", Enterprise, true},
		{"", Community, false},
		{"platinum", Community, false},
		{"enterprise-plus", Community, false},
	}
	for _, tt := range tests {
		if got := ParseTier(tt.in); got != tt.want {
			t.Errorf("ParseTier(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if got, known := LookupTier(tt.in); got != tt.want || known != tt.known {
			t.Errorf("LookupTier(%q) = %v, %v; want %v, %v", tt.in, got, known, tt.want, tt.known)
		}
	}
}

func TestTierOrderAndText(t *testing.T) {
	if !(Community < Professional && Professional < Enterprise) {
		t.Fatal("tiers are not ordered community < professional < enterprise")
	}
	var zero Tier
	if zero != Community {
		t.Errorf("zero Tier = %v, want community", zero)
	}
	b, err := json.Marshal(map[string]Tier{"t": Professional})
	if err != nil || string(b) != `{"t":"professional"}` {
		t.Errorf("marshal = %s, %v", b, err)
	}
	var got struct{ T Tier }
	if err := json.Unmarshal([]byte(`{"T":"pro"}`), &got); err != nil || got.T != Professional {
		t.Errorf("unmarshal pro = %v, %v", got.T, err)
	}
	if Tier(9).String() != "unknown" {
		t.Errorf("out of range tier prints %q", Tier(9).String())
	}
}

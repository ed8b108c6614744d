package license

import (
	"fmt"
	"strings"
	"testing"
)

// TestKeyFormatEveryVerb covers the verbs go vet does not check when the
// format is not a constant: before Format, %d printed the clear key inside
// fmt's complaint, and %x the hex of the masked form.
func TestKeyFormatEveryVerb(t *testing.T) {
	k := Key(testKey)
	holder := struct{ K Key }{k}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%10s", "%-40v"} {
		for name, arg := range map[string]any{"key": k, "pointer": &k, "struct": holder} {
			out := fmt.Sprintf(verb, arg)
			if strings.Contains(out, testKey) || strings.Contains(out, "AB12") {
				t.Errorf("%s of %s leaks the key: %s", verb, name, out)
			}
			if name != "pointer" && !strings.Contains(out, "PENG-****-****-****-****-WXYZ") {
				t.Errorf("%s of %s = %q, want the masked key", verb, name, out)
			}
		}
	}
	err := fmt.Errorf("validate: %w", fmt.Errorf("key %d refused", k))
	if strings.Contains(err.Error(), "AB12") || !strings.Contains(err.Error(), "WXYZ") {
		t.Errorf("wrapped error leaks the key: %v", err)
	}
	if got := fmt.Sprintf("%q", k); got != `"PENG-****-****-****-****-WXYZ"` {
		t.Errorf("%%q = %s", got)
	}
	if got := fmt.Sprintf("%#v", k); got != `license.Key("PENG-****-****-****-****-WXYZ")` {
		t.Errorf("%%#v = %s", got)
	}
}

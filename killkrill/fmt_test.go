package killkrill

import (
	"encoding/json"
	"fmt"
	"math"
)

func sprintf(format string, v any) string { return fmt.Sprintf(format, v) }

func marshal(v any) ([]byte, error) { return json.Marshal(v) }

func nan() float64 { return math.NaN() }
func inf() float64 { return math.Inf(1) }

package killkrill

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// flavor selects the extra fields a log document carries next to ECS.
type flavor uint8

const (
	// flavorECS is the plain ECS document, used for the local fallback.
	flavorECS flavor = iota
	// flavorEntry adds the fields the real log receiver reads: timestamp,
	// log_level and service_name (message is shared with ECS).
	flavorEntry
	// flavorBatch adds timestamp and level, as in the standards' batch body.
	flavorBatch
)

// receiverTime is ISO-8601 with microseconds: precise enough, and readable
// by any Python datetime.fromisoformat, which the receivers use.
const receiverTime = "2006-01-02T15:04:05.000000Z07:00"

// field is one attribute after renaming, before writing.
type field struct {
	key  string
	val  slog.Value
	conv conversion
	skip bool
}

// encoder turns entries into JSON. It is used by one goroutine at a time and
// reused, so its scratch space is allocated once.
type encoder struct {
	fields []field
	keys   map[string]int // only for documents with many fields
}

// appendLog writes e, a log entry, as one JSON object.
func (enc *encoder) appendLog(dst []byte, e *entry, service string, fl flavor) []byte {
	enc.collectAll(e)
	r := &e.rec
	t := r.Time.UTC()
	level := levelName(r.Level)

	dst = append(dst, '{')
	dst = appendKey(dst, FieldTimestamp, true)
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	dst = appendKey(dst, FieldLevel, false)
	dst = appendString(dst, level)
	dst = appendKey(dst, FieldMessage, false)
	dst = appendString(dst, r.Message)
	dst = appendKey(dst, FieldServiceName, false)
	dst = appendString(dst, service)
	dst = appendKey(dst, FieldECSVersion, false)
	dst = appendString(dst, ECSVersion)
	if e.hs != nil && e.hs.addSource && r.PC != 0 {
		dst = appendSource(dst, r.PC)
	}
	for i := range enc.fields {
		f := &enc.fields[i]
		if f.skip {
			continue
		}
		dst = appendKey(dst, f.key, false)
		dst = appendValue(dst, f.val, f.conv)
	}
	switch fl {
	case flavorEntry:
		dst = appendKey(dst, "timestamp", false)
		dst = appendTime(dst, t, receiverTime)
		dst = appendKey(dst, "log_level", false)
		dst = appendString(dst, level)
		dst = appendKey(dst, "service_name", false)
		dst = appendString(dst, service)
	case flavorBatch:
		dst = appendKey(dst, "timestamp", false)
		dst = appendTime(dst, t, receiverTime)
		dst = appendKey(dst, "level", false)
		dst = appendString(dst, level)
	}
	clear(enc.fields) // drop references to the entry's values
	enc.fields = enc.fields[:0]
	return append(dst, '}')
}

func appendSource(dst []byte, pc uintptr) []byte {
	frames := runtime.CallersFrames([]uintptr{pc})
	f, _ := frames.Next()
	if f.File != "" {
		dst = appendKey(dst, "log.origin.file.name", false)
		dst = appendString(dst, f.File)
		dst = appendKey(dst, "log.origin.file.line", false)
		dst = strconv.AppendInt(dst, int64(f.Line), 10)
	}
	if f.Function != "" {
		dst = appendKey(dst, "log.origin.function", false)
		dst = appendString(dst, f.Function)
	}
	return dst
}

// collectAll gathers the handler's and the record's attributes as renamed
// fields and marks duplicates so that the last one written for a name wins:
// a JSON object with a repeated key is rejected by Elasticsearch.
func (enc *encoder) collectAll(e *entry) {
	enc.fields = enc.fields[:0]
	prefix, scan := "", secretScan{}
	if hs := e.hs; hs != nil {
		for _, ga := range hs.attrs {
			enc.collect(ga.prefix, ga.scan, ga.attr)
		}
		prefix, scan = hs.group, hs.groupScan
	}
	e.rec.Attrs(func(a slog.Attr) bool {
		enc.collect(prefix, scan, a)
		return true
	})
	enc.markDuplicates()
}

func (enc *encoder) collect(prefix string, scan secretScan, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return // slog's rule: an attribute with empty key and value is ignored
	}
	s := scan.feed(a.Key)
	if a.Value.Kind() == slog.KindGroup {
		members := a.Value.Group()
		if len(members) == 0 {
			return
		}
		if s.hit && a.Key != "" {
			enc.add(prefix+a.Key, slog.StringValue(Masked), true)
			return
		}
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "."
		}
		for _, m := range members {
			enc.collect(p, s, m)
		}
		return
	}
	key := a.Key
	if prefix != "" {
		key = prefix + a.Key
	}
	if s.hit {
		enc.add(key, slog.StringValue(Masked), true)
		return
	}
	enc.add(key, a.Value, false)
}

// add renames key and converts v where the alias table says so.
func (enc *encoder) add(key string, v slog.Value, masked bool) {
	name, conv := ecsName(key)
	if masked {
		conv = convNone
	}
	switch conv {
	case convMsToNs:
		ns, ok := msToNs(v)
		if !ok {
			name, conv = labelName(key), convNone
		} else {
			v, conv = slog.Int64Value(ns), convNone
		}
	case convDurationNs:
		if v.Kind() != slog.KindDuration {
			name, conv = labelName(key), convNone
		} else {
			v, conv = slog.Int64Value(v.Duration().Nanoseconds()), convNone
		}
	}
	enc.fields = append(enc.fields, field{key: name, val: v, conv: conv})
}

func msToNs(v slog.Value) (int64, bool) {
	var ms float64
	switch v.Kind() {
	case slog.KindInt64:
		ms = float64(v.Int64())
	case slog.KindUint64:
		ms = float64(v.Uint64())
	case slog.KindFloat64:
		ms = v.Float64()
	case slog.KindDuration:
		return v.Duration().Nanoseconds(), true
	default:
		return 0, false
	}
	ns := ms * 1e6
	if math.IsNaN(ns) || math.IsInf(ns, 0) || ns > math.MaxInt64 || ns < math.MinInt64 {
		return 0, false
	}
	return int64(math.Round(ns)), true
}

func (enc *encoder) markDuplicates() {
	fs := enc.fields
	if len(fs) <= 32 {
		for i := range fs {
			for j := i + 1; j < len(fs); j++ {
				if fs[j].key == fs[i].key {
					fs[i].skip = true
					break
				}
			}
		}
		return
	}
	if enc.keys == nil {
		enc.keys = make(map[string]int, len(fs))
	}
	clear(enc.keys)
	for i := len(fs) - 1; i >= 0; i-- {
		if _, seen := enc.keys[fs[i].key]; seen {
			fs[i].skip = true
			continue
		}
		enc.keys[fs[i].key] = i
	}
}

// appendMetricDoc writes a metric as an ECS document for the local
// fallback. ECS has no metric fields, so the reading is the message and
// labels.metric_name/metric_type/metric_value (strings, as ECS labels are)
// beside the metric's own labels.<key>.
func appendMetricDoc(dst []byte, m *Metric, service string) []byte {
	value := appendFloat(nil, m.Value)
	if value[0] == '"' {
		value = value[1 : len(value)-1]
	}
	dst = append(dst, '{')
	dst = appendKey(dst, FieldTimestamp, true)
	dst = appendTime(dst, m.Time.UTC(), time.RFC3339Nano)
	dst = appendKey(dst, "event.kind", false)
	dst = appendString(dst, "metric")
	dst = appendKey(dst, FieldMessage, false)
	dst = appendString(dst, m.Name+" "+string(m.Type)+" "+string(value))
	dst = appendKey(dst, FieldServiceName, false)
	dst = appendString(dst, service)
	dst = appendKey(dst, FieldECSVersion, false)
	dst = appendString(dst, ECSVersion)
	dst = appendKey(dst, labelsPrefix+"metric_name", false)
	dst = appendString(dst, m.Name)
	dst = appendKey(dst, labelsPrefix+"metric_type", false)
	dst = appendString(dst, string(m.Type))
	dst = appendKey(dst, labelsPrefix+"metric_value", false)
	dst = appendString(dst, string(value))
	for _, k := range sortedKeys(m.Labels) {
		switch k {
		case "metric_name", "metric_type", "metric_value":
			continue // the reading's own fields win
		}
		dst = appendKey(dst, labelName(k), false)
		dst = appendString(dst, maskLabel(k, m.Labels[k]))
	}
	return append(dst, '}')
}

// appendMetricBody writes the metrics receiver's body. In entry mode the name
// and label names are made valid for Prometheus; the batch body keeps the
// dotted name, as the standards show it.
func appendMetricBody(dst []byte, m *Metric, service string, prom bool) []byte {
	name := m.Name
	if prom {
		name = PrometheusName(name)
	}
	dst = append(dst, '{')
	dst = appendKey(dst, "name", true)
	dst = appendString(dst, name)
	dst = appendKey(dst, "type", false)
	dst = appendString(dst, string(m.Type))
	dst = appendKey(dst, "value", false)
	dst = appendFloat(dst, m.Value)
	dst = appendKey(dst, "labels", false)
	dst = append(dst, '{')
	first := true
	hasService := false
	for _, k := range sortedKeys(m.Labels) {
		lk := k
		if prom {
			lk = prometheusLabel(k)
		}
		hasService = hasService || lk == "service"
		dst = appendKey(dst, lk, first)
		dst = appendString(dst, maskLabel(k, m.Labels[k]))
		first = false
	}
	if !hasService && service != "" {
		dst = appendKey(dst, "service", first)
		dst = appendString(dst, service)
	}
	dst = append(dst, '}')
	dst = appendKey(dst, "timestamp", false)
	dst = appendTime(dst, m.Time.UTC(), receiverTime)
	return append(dst, '}')
}

func maskLabel(k, v string) string {
	if IsSecretKey(k) {
		return Masked
	}
	return v
}

func sortedKeys(m map[string]string) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// levelName is the lower-case level written as log.level and log_level.
// Custom levels go to the nearest standard name below them; from ERROR+4 up
// the name is "critical", as Python's logging (and so the receivers) knows it.
func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	case l < slog.LevelError+4:
		return "error"
	}
	return "critical"
}

func appendKey(dst []byte, k string, first bool) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = appendString(dst, k)
	return append(dst, ':')
}

func appendTime(dst []byte, t time.Time, layout string) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, layout)
	return append(dst, '"')
}

func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		// JSON has no NaN or Inf; a string keeps the document valid.
		return appendString(dst, strconv.FormatFloat(f, 'g', -1, 64))
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// appendValue writes v as JSON. A value whose MarshalJSON, Error or String
// panics is written as a "!PANIC: ..." string: a bad value must not take
// down the shipping goroutine.
func appendValue(dst []byte, v slog.Value, conv conversion) (out []byte) {
	start := len(dst)
	defer func() {
		if p := recover(); p != nil {
			out = appendString(dst[:start], fmt.Sprintf("!PANIC: %v", p))
		}
	}()
	if conv == convKeyword && v.Kind() != slog.KindString {
		// ECS keyword fields and labels hold strings: write the value's JSON
		// text (a number, true, an object...) as one string.
		dst = appendValue(dst, v, convNone)
		if len(dst) > start && dst[start] != '"' {
			raw := string(dst[start:])
			dst = appendString(dst[:start], raw)
		}
		return dst
	}
	if conv == convErrorText {
		switch v.Kind() {
		case slog.KindString:
			return appendString(dst, v.String())
		case slog.KindAny:
			if err, ok := v.Any().(error); ok && err != nil {
				return appendString(dst, err.Error())
			}
		}
	}
	switch v.Kind() {
	case slog.KindString:
		return appendString(dst, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(dst, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(dst, v.Uint64(), 10)
	case slog.KindFloat64:
		return appendFloat(dst, v.Float64())
	case slog.KindBool:
		return strconv.AppendBool(dst, v.Bool())
	case slog.KindDuration:
		return strconv.AppendInt(dst, v.Duration().Nanoseconds(), 10)
	case slog.KindTime:
		return appendTime(dst, v.Time().UTC(), time.RFC3339Nano)
	case slog.KindGroup:
		// Groups are flattened before this point; a group here came from a
		// masked or odd path, so write its text rather than fail.
		return appendString(dst, v.String())
	}
	a := v.Resolve().Any()
	switch x := a.(type) {
	case nil:
		return append(dst, "null"...)
	case error:
		return appendString(dst, x.Error())
	case []byte:
		return appendString(dst, string(x))
	}
	b, err := json.Marshal(a)
	if err != nil {
		return appendString(dst, fmt.Sprintf("%+v", a))
	}
	return append(dst, b...)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD so the
// document stays valid; U+2028 and U+2029 are escaped for JavaScript readers.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

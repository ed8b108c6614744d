package marchproxytest

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// fieldError is one entry of a FastAPI/pydantic 422 body.
type fieldError struct {
	Type  string         `json:"type"`
	Loc   []any          `json:"loc"`
	Msg   string         `json:"msg"`
	Input any            `json:"input"`
	Ctx   map[string]any `json:"ctx,omitempty"`
}

// form reads a JSON object the way pydantic's lax mode does and collects
// errors in pydantic's shape.
type form struct {
	loc    []any
	fields map[string]json.RawMessage
	whole  any
	errs   []fieldError
}

func newForm(loc []any, body []byte) (*form, []fieldError) {
	var whole any
	if err := json.Unmarshal(body, &whole); err != nil {
		return nil, []fieldError{{
			Type: "json_invalid", Loc: append(loc, 0), Msg: "JSON decode error",
			Input: map[string]any{}, Ctx: map[string]any{"error": "Expecting value"},
		}}
	}
	return formFromValue(loc, whole, body)
}

func formFromValue(loc []any, whole any, raw []byte) (*form, []fieldError) {
	if _, ok := whole.(map[string]any); !ok {
		return nil, []fieldError{{
			Type: "model_attributes_type", Loc: loc,
			Msg: "Input should be a valid dictionary or object to extract fields from", Input: whole,
		}}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, []fieldError{{Type: "json_invalid", Loc: append(loc, 0), Msg: "JSON decode error", Input: map[string]any{}}}
	}
	return &form{loc: loc, fields: fields, whole: whole}, nil
}

func (f *form) at(field string) []any {
	out := make([]any, 0, len(f.loc)+1)
	return append(append(out, f.loc...), field)
}

func (f *form) add(field, typ, msg string, input any, ctx map[string]any) {
	f.errs = append(f.errs, fieldError{Type: typ, Loc: f.at(field), Msg: msg, Input: input, Ctx: ctx})
}

// lookup returns the raw value, whether the key was present, and whether
// it was JSON null.
func (f *form) lookup(field string) (json.RawMessage, bool, bool) {
	v, ok := f.fields[field]
	return v, ok, ok && string(v) == "null"
}

func (f *form) missing(field string) {
	f.add(field, "missing", "Field required", f.whole, nil)
}

// present returns the raw value of a field that is there and not null.
// Otherwise it reports what the server would (a missing required field, a
// null where none is allowed) and says in nullOK whether a null was accepted.
func (f *form) present(field string, required, nullable bool, typ, msg string) (raw json.RawMessage, nullOK bool) {
	raw, present, null := f.lookup(field)
	switch {
	case !present:
		if required {
			f.missing(field)
		}
		return nil, false
	case null && nullable:
		return nil, true
	case null:
		f.add(field, typ, msg, nil, nil)
		return nil, false
	}
	return raw, false
}

func decodeAny(raw json.RawMessage) any {
	var v any
	_ = json.Unmarshal(raw, &v)
	return v
}

// str reads a string field. required: absent is an error; nullable: null
// is accepted and reported as (nil, true).
func (f *form) str(field string, required, nullable bool, minLen, maxLen int) (*string, bool) {
	raw, nullOK := f.present(field, required, nullable, "string_type", "Input should be a valid string")
	if raw == nil {
		return nil, nullOK
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		f.add(field, "string_type", "Input should be a valid string", decodeAny(raw), nil)
		return nil, false
	}
	n := len([]rune(s))
	if minLen > 0 && n < minLen {
		f.add(field, "string_too_short", fmt.Sprintf("String should have at least %d %s", minLen, plural(minLen, "character")), s, map[string]any{"min_length": minLen})
		return nil, false
	}
	if maxLen > 0 && n > maxLen {
		f.add(field, "string_too_long", fmt.Sprintf("String should have at most %d %s", maxLen, plural(maxLen, "character")), s, map[string]any{"max_length": maxLen})
		return nil, false
	}
	return &s, true
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// integer reads an int field; ge/le bounds apply when hasGE/hasLE.
func (f *form) integer(field string, required, nullable bool, ge, le *int) (*int, bool) {
	raw, nullOK := f.present(field, required, nullable, "int_type", "Input should be a valid integer")
	if raw == nil {
		return nil, nullOK
	}
	n, ok := f.parseInt(field, decodeAny(raw))
	if !ok {
		return nil, false
	}
	if ge != nil && n < *ge {
		f.add(field, "greater_than_equal", fmt.Sprintf("Input should be greater than or equal to %d", *ge), n, map[string]any{"ge": *ge})
		return nil, false
	}
	if le != nil && n > *le {
		f.add(field, "less_than_equal", fmt.Sprintf("Input should be less than or equal to %d", *le), n, map[string]any{"le": *le})
		return nil, false
	}
	return &n, true
}

func (f *form) parseInt(field string, v any) (int, bool) {
	switch t := v.(type) {
	case float64:
		if t != math.Trunc(t) {
			f.add(field, "int_from_float", "Input should be a valid integer, got a number with a fractional part", t, nil)
			return 0, false
		}
		if math.Abs(t) > 1<<53 {
			f.add(field, "int_parsing_size", "Unable to parse input string as an integer, exceeded maximum size", t, nil)
			return 0, false
		}
		return int(t), true
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(t))
		if err != nil {
			f.add(field, "int_parsing", "Input should be a valid integer, unable to parse string as an integer", t, nil)
			return 0, false
		}
		return n, true
	}
	f.add(field, "int_type", "Input should be a valid integer", v, nil)
	return 0, false
}

func (f *form) boolean(field string) (*bool, bool) {
	raw, _ := f.present(field, false, false, "bool_type", "Input should be a valid boolean")
	if raw == nil {
		return nil, false
	}
	b, ok := parseBool(decodeAny(raw))
	if !ok {
		f.add(field, "bool_parsing", "Input should be a valid boolean, unable to interpret input", decodeAny(raw), nil)
		return nil, false
	}
	return &b, true
}

// parseBool accepts what pydantic's lax mode accepts for a bool.
func parseBool(v any) (bool, bool) {
	switch t := v.(type) {
	case bool:
		return t, true
	case float64:
		if t == 0 || t == 1 {
			return t == 1, true
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "true", "1", "yes", "on", "t", "y":
			return true, true
		case "false", "0", "no", "off", "f", "n":
			return false, true
		}
	}
	return false, false
}

// oneOf applies a field_validator that raises ValueError.
func (f *form) oneOf(field string, v *string, allowed []string, msg string) bool {
	if v == nil {
		return true
	}
	for _, a := range allowed {
		if *v == a {
			return true
		}
	}
	f.add(field, "value_error", "Value error, "+msg, *v, map[string]any{"error": map[string]any{}})
	return false
}

func intp(n int) *int { return &n }

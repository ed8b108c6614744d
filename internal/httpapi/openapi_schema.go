package httpapi

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/auth"
	"github.com/rookery/rookery/killkrill"
	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/waddleai"
)

// The JSON Schema of the API document is reflected from the Go types the
// handlers encode, following encoding/json's rules: the json tag names a
// field, omitempty and omitzero make it optional, a pointer (or a slice or
// map without omitempty) may be null, time.Time is a date-time string. A
// field may refine its schema with an openapi tag:
//
//	openapi:"nonnull"           the handler never sends null for this pointer, slice or map
//	openapi:"enum=a|b|c"        the string is one of these
//	openapi:"format=date-time"  the string has this format

// schemaEnums are the string types whose values are a closed set.
var schemaEnums = map[reflect.Type][]string{
	reflect.TypeFor[auth.Role]():       {string(auth.Viewer), string(auth.Maintainer), string(auth.Admin)},
	reflect.TypeFor[config.Type]():     {string(config.TypeString), string(config.TypeInteger), string(config.TypeBoolean), string(config.TypeJSON)},
	reflect.TypeFor[config.Category](): categoryNames(),
	reflect.TypeFor[config.Source]():   {string(config.FromDatabase), string(config.FromEnvironment), string(config.FromDefault)},
	reflect.TypeFor[config.Action]():   {string(config.PlanCreate), string(config.PlanUpdate), string(config.PlanRemove)},
	reflect.TypeFor[killkrill.Mode]():  {string(killkrill.ModeEntry), string(killkrill.ModeBatch)},
	reflect.TypeFor[license.Source](): {string(license.SourceLive), string(license.SourceCached), string(license.SourceDevelopment),
		string(license.SourceNone)},
	reflect.TypeFor[license.Tier](): {"community", "professional", "enterprise", "unknown"},
	reflect.TypeFor[license.Outcome](): {string(license.OutcomeNoKey), string(license.OutcomeDevelopment), string(license.OutcomeValid),
		string(license.OutcomeRefused), string(license.OutcomeUnreachable)},
	reflect.TypeFor[waddleai.Task](): {string(waddleai.TaskSentiment), string(waddleai.TaskClassification), string(waddleai.TaskSummary),
		string(waddleai.TaskEntities), string(waddleai.TaskLanguage)},
}

func categoryNames() []string {
	var out []string
	for _, c := range config.Categories() {
		out = append(out, string(c))
	}
	return out
}

// schemaWire names, for a type with its own MarshalJSON, a type of the
// same JSON shape to reflect instead.
var schemaWire = map[reflect.Type]reflect.Type{
	reflect.TypeFor[license.Status](): reflect.TypeFor[license.StatusJSON](),
}

// schemaNames renames types whose Go name is not what a client should
// call them.
var schemaNames = map[reflect.Type]string{
	reflect.TypeFor[configView]():         "ConfigItem",
	reflect.TypeFor[userView]():           "User",
	reflect.TypeFor[license.StatusJSON](): "LicenseStatus",
}

// packagePrefixes keep types of different packages apart in
// components/schemas (license.Status and telemetry.Status).
var packagePrefixes = map[string]string{
	"config": "Config", "license": "License", "killkrill": "KillKrill", "waddleai": "WaddleAI",
	"marchproxy": "MarchProxy", "telemetry": "Telemetry", "mail": "Mail",
}

// initialisms keep their case when an unexported Go name leads with one:
// aiGatewayAnswer is AIGatewayAnswer.
var initialisms = map[string]string{"ai": "AI", "api": "API", "id": "ID", "saml": "SAML", "sso": "SSO"}

// exportedName is a Go type name as a schema name: upper case first.
func exportedName(n string) string {
	i := strings.IndexFunc(n, unicode.IsUpper)
	if i < 0 {
		i = len(n)
	}
	if w, ok := initialisms[n[:i]]; ok {
		return w + n[i:]
	}
	r := []rune(n)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

var (
	typeTime        = reflect.TypeFor[time.Time]()
	typeRaw         = reflect.TypeFor[json.RawMessage]()
	typeMarshaler   = reflect.TypeFor[json.Marshaler]()
	typeTextMarshal = reflect.TypeFor[encoding.TextMarshaler]()
)

// schemaSet collects the named schemas (components/schemas) while types
// are reflected.
type schemaSet struct {
	defs  map[string]any
	names map[reflect.Type]string
}

func newSchemaSet() *schemaSet {
	return &schemaSet{defs: map[string]any{}, names: map[reflect.Type]string{}}
}

// name is the components/schemas name of a named struct type.
func (ss *schemaSet) name(t reflect.Type) string {
	if n, ok := schemaNames[t]; ok {
		return n
	}
	name := exportedName(t.Name())
	pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
	if p := packagePrefixes[pkg]; p != "" && !strings.HasPrefix(name, p) {
		name = p + name
	}
	return name
}

// ref returns the schema of t: a $ref for named structs (defined once in
// defs), inline otherwise.
func (ss *schemaSet) ref(t reflect.Type) map[string]any {
	if w, ok := schemaWire[t]; ok {
		t = w
	}
	switch {
	case t == typeTime:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == typeRaw:
		return map[string]any{}
	}
	if e, ok := schemaEnums[t]; ok {
		return map[string]any{"type": "string", "enum": e}
	}
	if t.Kind() != reflect.Pointer && (t.Implements(typeMarshaler) || reflect.PointerTo(t).Implements(typeMarshaler)) {
		panic(fmt.Sprintf("openapi: %v has its own MarshalJSON; declare its JSON shape in schemaWire", t))
	}
	if t.Kind() != reflect.Pointer && t.Implements(typeTextMarshal) {
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Pointer:
		return nullable(ss.ref(t.Elem()))
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": ss.ref(t.Elem())}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			panic(fmt.Sprintf("openapi: map key of %v is not a string", t))
		}
		return map[string]any{"type": "object", "additionalProperties": ss.ref(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return ss.object(t)
		}
		name, ok := ss.names[t]
		if !ok {
			name = ss.name(t)
			for other, n := range ss.names {
				if n == name {
					panic(fmt.Sprintf("openapi: %v and %v are both named %s", t, other, name))
				}
			}
			ss.names[t] = name
			ss.defs[name] = nil // reserve: a type may refer to itself
			ss.defs[name] = ss.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	panic(fmt.Sprintf("openapi: no JSON schema for %v", t))
}

// object is the schema of a struct: its JSON fields, embedded structs'
// fields promoted, no other properties.
func (ss *schemaSet) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	ss.fields(t, props, &required)
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		slices.Sort(required)
		out["required"] = required
	}
	return out
}

func (ss *schemaSet) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, hasTag := f.Tag.Lookup("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" && opts == "" {
			continue
		}
		if f.Anonymous && !hasTag && f.Type.Kind() == reflect.Struct {
			ss.fields(f.Type, props, required)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		optional := slices.Contains(strings.Split(opts, ","), "omitempty") || slices.Contains(strings.Split(opts, ","), "omitzero")
		typ, k := f.Type, f.Type.Kind()
		if k == reflect.Pointer {
			typ = typ.Elem()
		}
		s := ss.ref(typ)
		nonnull := false
		for _, o := range strings.Split(f.Tag.Get("openapi"), ",") {
			key, val, _ := strings.Cut(o, "=")
			switch key {
			case "nonnull":
				nonnull = true
			case "enum":
				s = map[string]any{"type": "string", "enum": strings.Split(val, "|")}
			case "format":
				s = with(s, "format", val)
			}
		}
		// omitempty leaves nil out instead of sending null.
		isList := k == reflect.Slice && typ.Elem().Kind() != reflect.Uint8 || k == reflect.Map
		if !optional && !nonnull && (k == reflect.Pointer || isList) {
			s = nullable(s)
		}
		props[name] = s
		if !optional {
			*required = append(*required, name)
		}
	}
}

// with is s with one more keyword.
func with(s map[string]any, key string, v any) map[string]any {
	out := make(map[string]any, len(s)+1)
	for k, v := range s {
		out[k] = v
	}
	out[key] = v
	return out
}

// nullable lets a schema also be null (OpenAPI 3.1: a type list, or anyOf
// for a reference).
func nullable(s map[string]any) map[string]any {
	if typ, ok := s["type"].(string); ok {
		out := make(map[string]any, len(s))
		for k, v := range s {
			out[k] = v
		}
		out["type"] = []string{typ, "null"}
		if e, ok := s["enum"].([]string); ok {
			enum := make([]any, 0, len(e)+1)
			for _, v := range e {
				enum = append(enum, v)
			}
			out["enum"] = append(enum, nil)
		}
		return out
	}
	if len(s) == 0 {
		return s // anything, null included
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

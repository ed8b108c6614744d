package config

import "encoding/json"

// JSONSchemaDialect is the JSON Schema version Schema speaks.
const JSONSchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// Schema returns the JSON Schema (2020-12) of a Document for the keys in
// reg: each key's type, limits (enum, minimum, maximum, format, pattern),
// default and description, sensitive keys as writeOnly. Editors check an
// apply file with it; the settings page builds its editors from it.
// Extensions: x-category, x-sensitive and x-type (the key's own type,
// "json" included) for clients that group or mask.
func Schema(reg *Registry) map[string]any {
	props := map[string]any{}
	for _, k := range reg.Keys() {
		props[k.Name] = keySchema(k)
	}
	cats := make([]string, 0, len(categories))
	for _, c := range categories {
		cats = append(cats, string(c))
	}
	return map[string]any{
		"$schema":     JSONSchemaDialect,
		"$id":         "urn:rookery:config:v1",
		"title":       "rookery configuration",
		"description": "A configuration as code document: rookery config export writes it, rookery config apply reads it. A null value removes the stored value.",
		"type":        "object",
		"properties": map[string]any{
			"kind":           map[string]any{"const": DocumentKind},
			"schema_version": map[string]any{"const": SchemaVersion},
			"category":       map[string]any{"enum": cats},
			"values": map[string]any{
				"type":                 "object",
				"properties":           props,
				"additionalProperties": false,
			},
		},
		"required":             []string{"values"},
		"additionalProperties": false,
	}
}

// keySchema is the schema of one key's value.
func keySchema(k Key) map[string]any {
	s := map[string]any{
		"description": k.Description,
		"x-category":  string(k.Category),
		"x-type":      string(k.Type),
	}
	var l Limits
	// A sensitive value may come sealed (enc:v1:...), which no limit of
	// the clear value describes.
	if k.Rule != nil && !k.Sensitive {
		l = RuleLimits(k.Rule)
	}
	switch k.Type {
	case TypeInteger:
		s["type"] = []string{"integer", "null"}
	case TypeBoolean:
		s["type"] = []string{"boolean", "null"}
	case TypeJSON:
		// Any JSON value, or its text: the export writes the text.
	default:
		s["type"] = []string{"string", "null"}
	}
	if l.Min != nil {
		s["minimum"] = *l.Min
	}
	if l.Max != nil {
		s["maximum"] = *l.Max
	}
	if len(l.Enum) > 0 {
		enum := make([]any, 0, len(l.Enum)+2)
		for _, e := range l.Enum {
			enum = append(enum, e)
		}
		if l.Empty {
			enum = append(enum, "")
		}
		s["enum"] = append(enum, nil)
	}
	if l.Format != "" || l.Pattern != "" {
		// The empty string is accepted beside the format when the rule is
		// Optional; a format names what a non-empty value must be.
		inner := map[string]any{}
		if l.Format != "" {
			inner["format"] = l.Format
		}
		if l.Pattern != "" {
			inner["pattern"] = l.Pattern
		}
		if l.Empty {
			s["anyOf"] = []any{map[string]any{"const": ""}, inner}
		} else {
			for name, v := range inner {
				s[name] = v
			}
		}
	}
	if len(l.Schemes) > 0 {
		s["x-schemes"] = l.Schemes
	}
	if k.Sensitive {
		s["writeOnly"] = true
		s["x-sensitive"] = true
		// An export with secrets writes them sealed: enc:v1:...
		s["type"] = []string{"string", "null"}
	} else if k.Default != "" || k.Type == TypeString {
		s["default"] = typed(k.Type, k.Default)
		if k.Type == TypeJSON {
			var v any
			if json.Unmarshal([]byte(k.Default), &v) == nil {
				s["default"] = v
			}
		}
	}
	return s
}

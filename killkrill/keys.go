package killkrill

import "strings"

// Field names written in every log document.
const (
	FieldTimestamp   = "@timestamp"
	FieldLevel       = "log.level"
	FieldMessage     = "message"
	FieldServiceName = "service.name"
	FieldECSVersion  = "ecs.version"
	labelsPrefix     = "labels."
)

// conversion says how a value changes when its key is renamed.
type conversion uint8

const (
	convNone       conversion = iota
	convMsToNs                // a number of milliseconds becomes event.duration in ns
	convDurationNs            // a time.Duration becomes event.duration in ns
	convErrorText             // any value becomes its text, for error.message
	convKeyword               // any value becomes a JSON string: ECS keyword fields and labels
)

// alias maps the short keys the standards' examples use to ECS names. The
// table is deliberately small; everything else that is not already an ECS
// name lands under labels.
func alias(key string) (string, conversion, bool) {
	switch key {
	case "user_id":
		return "user.id", convKeyword, true
	case "team_id", "org_id", "organization_id":
		return "organization.id", convKeyword, true
	case "ip_address", "client_ip":
		return "source.ip", convNone, true
	case "request_id":
		return "http.request.id", convKeyword, true
	case "trace_id":
		return "trace.id", convKeyword, true
	case "span_id":
		return "span.id", convKeyword, true
	case "method":
		return "http.request.method", convKeyword, true
	case "path":
		return "url.path", convKeyword, true
	case "status", "status_code":
		return "http.response.status_code", convNone, true
	case "duration_ms":
		return "event.duration", convMsToNs, true
	case "duration":
		return "event.duration", convDurationNs, true
	case "action":
		return "event.action", convKeyword, true
	case "outcome":
		return "event.outcome", convKeyword, true
	case "error", "err":
		return "error.message", convErrorText, true
	case "user_agent":
		return "user_agent.original", convKeyword, true
	}
	return "", convNone, false
}

// isECSFieldSet reports whether name is a top-level ECS field set, so that a
// dotted key under it (user.id, http.request.method) is already an ECS name.
func isECSFieldSet(name string) bool {
	switch name {
	case "agent", "as", "client", "cloud", "container", "data_stream",
		"destination", "device", "dll", "dns", "ecs", "email", "error",
		"event", "faas", "file", "group", "host", "http", "labels", "log",
		"network", "observer", "orchestrator", "organization", "package",
		"process", "registry", "related", "rule", "server", "service",
		"source", "span", "threat", "tls", "trace", "transaction", "url",
		"user", "user_agent", "vulnerability":
		return true
	}
	return false
}

// isReserved reports whether an ECS name is one the document itself fills,
// so an attribute cannot overwrite it.
func isReserved(name string) bool {
	switch name {
	case FieldTimestamp, FieldLevel, FieldMessage, FieldServiceName, FieldECSVersion:
		return true
	}
	return false
}

// ecsName maps a full dotted attribute key to the name written in the
// document and the conversion its value needs:
//
//  1. a key in the alias table becomes its ECS name;
//  2. a dotted key under an ECS field set passes through unchanged;
//  3. anything else, and anything that would overwrite a field the document
//     fills itself, becomes labels.<key> with dots turned into underscores
//     (ECS labels are flat keyword pairs).
func ecsName(key string) (string, conversion) {
	if to, conv, ok := alias(key); ok {
		return to, conv
	}
	if i := strings.IndexByte(key, '.'); i > 0 && i < len(key)-1 && isECSFieldSet(key[:i]) && !isReserved(key) {
		if key[:i] == "labels" || isKeywordField(key) {
			return key, convKeyword
		}
		return key, convNone
	}
	return labelName(key), convKeyword
}

// isKeywordField reports whether an ECS field rookery writes is of type
// keyword (or another string type), so that a number or boolean logged
// under it is written as a string, as Elasticsearch's mapping expects.
// The types are those of the ECS field reference (see
// testdata/ecs_fields.tsv, checked by TestECSFieldTypes).
func isKeywordField(name string) bool {
	switch name {
	case "user.id", "user.name", "user.email", "organization.id", "organization.name",
		"http.request.id", "http.request.method", "url.path", "url.original",
		"event.action", "event.outcome", "event.kind", "event.category", "event.dataset",
		"trace.id", "span.id", "transaction.id", "user_agent.original", "error.type",
		"error.code", "service.version", "service.environment", "host.name":
		return true
	}
	return false
}

func labelName(key string) string {
	if key == "" {
		return labelsPrefix + "_"
	}
	return labelsPrefix + strings.ReplaceAll(key, ".", "_")
}

// secretScan tracks whether a dotted key, fed one part at a time, names a
// secret. Keys are split into words at '.', '_', '-' and ' '; a key is secret
// when a word contains password, passwd, secret, authorization, credential,
// cookie, apikey or privatekey, when a word ends in token or is pwd, or when
// two words read api key, private key or access key. "prompt_tokens" is not
// a secret; "access_token", "X-Api-Key" and "db.password" are.
type secretScan struct {
	prev uint8 // the previous word was "api", "private" or "access"
	hit  bool
}

func (s secretScan) feed(part string) secretScan {
	if s.hit {
		return s
	}
	start := 0
	for i := 0; i <= len(part); i++ {
		if i < len(part) && !isKeySep(part[i]) {
			continue
		}
		if i > start {
			s = s.word(part[start:i])
			if s.hit {
				return s
			}
		}
		start = i + 1
	}
	return s
}

// isKeySep reports whether c separates the words of a key. Group names are
// fed as separate parts, so a pair such as api + key also matches across a
// group boundary.
func isKeySep(c byte) bool { return c == '.' || c == '_' || c == '-' || c == ' ' }

func (s secretScan) word(w string) secretScan {
	if s.prev != 0 && strings.EqualFold(w, "key") {
		s.hit = true
		return s
	}
	s.prev = 0
	for _, bad := range [...]string{"password", "passwd", "secret", "authorization", "credential", "cookie", "apikey", "privatekey"} {
		if containsFold(w, bad) {
			s.hit = true
			return s
		}
	}
	if hasSuffixFold(w, "token") || strings.EqualFold(w, "pwd") {
		s.hit = true
		return s
	}
	if strings.EqualFold(w, "api") || strings.EqualFold(w, "private") || strings.EqualFold(w, "access") {
		s.prev = 1
	}
	return s
}

// IsSecretKey reports whether an attribute or label key names a secret and
// so has its value replaced by Masked. See the package documentation.
func IsSecretKey(key string) bool { return secretScan{}.feed(key).hit }

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// containsFold is an allocation-free, ASCII case-insensitive strings.Contains.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

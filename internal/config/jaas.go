package config

import (
	"errors"
	"fmt"
	"strings"
)

// The JAAS login modules that carry SASL credentials in Kafka clients.
const (
	plainLoginModule = "org.apache.kafka.common.security.plain.PlainLoginModule"
	scramLoginModule = "org.apache.kafka.common.security.scram.ScramLoginModule"
)

// jaas is a parsed sasl.jaas.config value. Errors never quote the value:
// it holds a password.
type jaas struct {
	module  string
	options map[string]string
}

// parseJAAS reads `Module required key="value" ...;`.
func parseJAAS(s string) (jaas, error) {
	j := jaas{options: map[string]string{}}
	rest := strings.TrimSpace(s)
	rest = strings.TrimSuffix(rest, ";")
	fields := strings.Fields(rest)
	if len(fields) < 2 {
		return j, errors.New("expected `<LoginModule> required username=\"…\" password=\"…\";`")
	}
	j.module = fields[0]
	switch fields[1] {
	case "required", "requisite", "sufficient", "optional":
	default:
		return j, fmt.Errorf("expected a control flag (required) after %s", j.module)
	}
	rest = strings.TrimSpace(rest[strings.Index(rest, fields[1])+len(fields[1]):])
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return j, errors.New("expected key=\"value\" options")
		}
		key := strings.TrimSpace(rest[:eq])
		rest = strings.TrimSpace(rest[eq+1:])
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := -1
			for i := 1; i < len(rest); i++ {
				if rest[i] == '\\' {
					i++
					continue
				}
				if rest[i] == '"' {
					end = i
					break
				}
			}
			if end < 0 {
				return j, fmt.Errorf("option %s: unterminated quoted value", key)
			}
			val = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(rest[1:end])
			rest = strings.TrimSpace(rest[end+1:])
		} else {
			sp := strings.IndexAny(rest, " \t\n")
			if sp < 0 {
				sp = len(rest)
			}
			val, rest = rest[:sp], strings.TrimSpace(rest[sp:])
		}
		j.options[key] = val
	}
	return j, nil
}

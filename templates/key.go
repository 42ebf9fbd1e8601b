package templates

import (
	"errors"
	"fmt"
	"strings"
)

// ItemKey is a parsed Zabbix item key: name[param1,param2,...].
type ItemKey struct {
	Name   string
	Params []string
}

// ParseKey parses a Zabbix item key following the agent's key grammar:
// a name of [0-9A-Za-z_.-], then optionally bracketed parameters that are
// unquoted (no ',' or ']'), quoted ("..." with \" as the only escape) or
// one level of [array] (returned as its raw text). The templates test uses
// it to check every vpoller.* key; it never panics on malformed input.
func ParseKey(s string) (ItemKey, error) {
	i := 0
	for i < len(s) && isKeyChar(s[i]) {
		i++
	}
	if i == 0 {
		return ItemKey{}, errors.New("item key: empty name")
	}
	k := ItemKey{Name: s[:i]}
	if i == len(s) {
		return k, nil
	}
	if s[i] != '[' {
		return ItemKey{}, fmt.Errorf("item key %q: invalid character %q at %d", s, s[i], i)
	}
	if s[len(s)-1] != ']' {
		return ItemKey{}, fmt.Errorf("item key %q: missing closing ']'", s)
	}
	params, rest, err := parseParams(s[i+1:], false)
	if err != nil {
		return ItemKey{}, fmt.Errorf("item key %q: %w", s, err)
	}
	if rest != "" {
		return ItemKey{}, fmt.Errorf("item key %q: trailing text %q", s, rest)
	}
	k.Params = params
	return k, nil
}

func isKeyChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '.' || c == '-'
}

// parseParams parses parameters up to and including the closing ']' and
// returns what follows it.
func parseParams(s string, nested bool) ([]string, string, error) {
	var out []string
	for {
		s = strings.TrimLeft(s, " ")
		var p string
		switch {
		case strings.HasPrefix(s, `"`):
			j := 1
			var b strings.Builder
			for ; j < len(s); j++ {
				if s[j] == '\\' && j+1 < len(s) && s[j+1] == '"' {
					b.WriteByte('"')
					j++
					continue
				}
				if s[j] == '"' {
					break
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, "", errors.New("unterminated quoted parameter")
			}
			p = b.String()
			s = strings.TrimLeft(s[j+1:], " ")
		case strings.HasPrefix(s, "["):
			if nested {
				return nil, "", errors.New("nested array parameter")
			}
			inner, rest, err := parseParams(s[1:], true)
			if err != nil {
				return nil, "", err
			}
			p = "[" + strings.Join(inner, ",") + "]"
			s = strings.TrimLeft(rest, " ")
		default:
			j := strings.IndexAny(s, ",]")
			if j < 0 {
				return nil, "", errors.New("missing closing ']'")
			}
			p = strings.TrimRight(s[:j], " ")
			s = s[j:]
		}
		out = append(out, p)
		if s == "" {
			return nil, "", errors.New("missing closing ']'")
		}
		switch s[0] {
		case ',':
			s = s[1:]
		case ']':
			return out, s[1:], nil
		default:
			return nil, "", fmt.Errorf("unexpected %q after parameter", s[0])
		}
	}
}

// Key formats an item key, quoting parameters that need it and dropping
// trailing empty parameters (Zabbix treats them as not given).
func Key(name string, params ...string) string {
	for len(params) > 0 && params[len(params)-1] == "" {
		params = params[:len(params)-1]
	}
	if len(params) == 0 {
		return name
	}
	q := make([]string, len(params))
	for i, p := range params {
		q[i] = quoteParam(p)
	}
	return name + "[" + strings.Join(q, ",") + "]"
}

func quoteParam(p string) string {
	if p == "" || !strings.ContainsAny(p, `,]"[ `) {
		return p
	}
	return `"` + strings.ReplaceAll(p, `"`, `\"`) + `"`
}

package plugin

import (
	"errors"
	"fmt"
	"strings"
)

// maxItemKey bounds a key given on the command line (Zabbix's own limit
// on item keys is 2048 characters).
const maxItemKey = 2048

// ParseItemKey splits a Zabbix item key as the agent does before it
// hands the key to a plugin: the name ([0-9A-Za-z_.-]), then optionally
// parameters in brackets, each unquoted (leading spaces dropped, up to
// ',' or ']'), quoted ("...", where \" is a quote) or an array [a,b],
// which arrives as one parameter "a,b". "key" has no parameters (nil),
// "key[]" one empty one. It is used by the plugin's -t.
func ParseItemKey(s string) (name string, params []string, err error) {
	if len(s) > maxItemKey {
		return "", nil, fmt.Errorf("item key longer than %d characters", maxItemKey)
	}
	i := 0
	for i < len(s) && isKeyNameChar(s[i]) {
		i++
	}
	if i == 0 {
		return "", nil, fmt.Errorf("item key %q: no key name (want name[param,...])", s)
	}
	name = s[:i]
	if i == len(s) {
		return name, nil, nil
	}
	if s[i] != '[' {
		return "", nil, fmt.Errorf("item key %q: invalid character %q after the name", s, s[i])
	}
	params, rest, err := itemParams(s[i+1:], false)
	if err != nil {
		return "", nil, fmt.Errorf("item key %q: %w", s, err)
	}
	if rest != "" {
		return "", nil, fmt.Errorf("item key %q: text after the closing ']'", s)
	}
	return name, params, nil
}

func isKeyNameChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '.' || c == '-'
}

// itemParams reads parameters up to and including the closing ']' and
// returns what follows it; in an array (nested) a further array is an
// error, as in Zabbix.
func itemParams(s string, nested bool) ([]string, string, error) {
	var out []string
	for {
		s = strings.TrimLeft(s, " ")
		var p string
		switch {
		case strings.HasPrefix(s, `"`):
			var b strings.Builder
			j := 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) && s[j+1] == '"' {
					j++
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
				return nil, "", errors.New("an array inside an array")
			}
			inner, rest, err := itemParams(s[1:], true)
			if err != nil {
				return nil, "", err
			}
			p = strings.Join(inner, ",")
			s = strings.TrimLeft(rest, " ")
		default:
			j := strings.IndexAny(s, ",]")
			if j < 0 {
				return nil, "", errors.New("missing closing ']'")
			}
			p, s = s[:j], s[j:]
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
			return nil, "", fmt.Errorf("unexpected %q after a quoted parameter", s[0])
		}
	}
}

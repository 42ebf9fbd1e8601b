package lld

import (
	"errors"
	"fmt"
	"strings"
)

// MaxItemKey bounds a key (Zabbix's own limit on item keys is 2048
// characters), so a hostile key costs bounded work.
const MaxItemKey = 2048

// ItemKey is a Zabbix item key as the agent hands it to a plugin: the
// name, and the parameters already unquoted. Params is nil for "key" and
// one empty parameter for "key[]". An array parameter "[a,b]" arrives as
// one parameter "a,b", as the agent delivers it; Array tells which ones
// were arrays, for callers that must tell them apart.
type ItemKey struct {
	Name   string
	Params []string
	Array  []bool
}

// ParseItemKey reads a whole item key with the agent's grammar: a name
// of [0-9A-Za-z_.-], then optionally bracketed parameters, each unquoted
// (leading spaces dropped, up to ',' or ']'), quoted ("...", where \" is
// a quote) or one level of array. The plugin's -t and the templates'
// checks both read keys with it, so they cannot disagree.
func ParseItemKey(s string) (ItemKey, error) {
	k, rest, err := CutItemKey(s)
	if err != nil {
		return ItemKey{}, err
	}
	if rest != "" {
		if k.Params == nil {
			return ItemKey{}, fmt.Errorf("item key %q: invalid character %q after the name", s, rest[0])
		}
		return ItemKey{}, fmt.Errorf("item key %q: text after the closing ']'", s)
	}
	return k, nil
}

// CutItemKey reads the item key at the start of s and returns what
// follows it: trigger expressions hold keys followed by more text. The
// work is linear in len(s); a key over MaxItemKey is refused.
func CutItemKey(s string) (k ItemKey, rest string, err error) {
	i := 0
	for i < len(s) && isKeyNameChar(s[i]) {
		i++
	}
	if i == 0 {
		return ItemKey{}, "", fmt.Errorf("item key %q: no key name (want name[param,...])", s)
	}
	if i > MaxItemKey {
		return ItemKey{}, "", fmt.Errorf("item key longer than %d characters", MaxItemKey)
	}
	k.Name = s[:i]
	if i == len(s) || s[i] != '[' {
		return k, s[i:], nil
	}
	params, arrays, after, err := itemParams(s[i+1:], false)
	if err != nil {
		return ItemKey{}, "", fmt.Errorf("item key %q: %w", s, err)
	}
	if len(s)-len(after) > MaxItemKey {
		return ItemKey{}, "", fmt.Errorf("item key longer than %d characters", MaxItemKey)
	}
	k.Params, k.Array = params, arrays
	return k, after, nil
}

func isKeyNameChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '.' || c == '-'
}

// itemParams reads parameters up to and including the closing ']' and
// returns what follows it; in an array (nested) a further array is an
// error, as in Zabbix.
func itemParams(s string, nested bool) (params []string, arrays []bool, rest string, err error) {
	for {
		s = strings.TrimLeft(s, " ")
		var p string
		array := false
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
				return nil, nil, "", errors.New("unterminated quoted parameter")
			}
			p = b.String()
			s = strings.TrimLeft(s[j+1:], " ")
		case strings.HasPrefix(s, "["):
			if nested {
				return nil, nil, "", errors.New("an array inside an array")
			}
			inner, _, after, err := itemParams(s[1:], true)
			if err != nil {
				return nil, nil, "", err
			}
			p, array = strings.Join(inner, ","), true
			s = strings.TrimLeft(after, " ")
		default:
			j := strings.IndexAny(s, ",]")
			if j < 0 {
				return nil, nil, "", errors.New("missing closing ']'")
			}
			p, s = s[:j], s[j:]
		}
		params, arrays = append(params, p), append(arrays, array)
		if s == "" {
			return nil, nil, "", errors.New("missing closing ']'")
		}
		switch s[0] {
		case ',':
			s = s[1:]
		case ']':
			return params, arrays, s[1:], nil
		default:
			return nil, nil, "", fmt.Errorf("unexpected %q after a quoted parameter", s[0])
		}
	}
}

// FormatItemKey writes an item key that ParseItemKey reads back to the
// same parameters: it quotes the parameters that need it and drops
// trailing empty ones (Zabbix treats them as not given). A parameter
// ending in a backslash cannot be quoted (Zabbix has no escape for it).
func FormatItemKey(name string, params ...string) string {
	for len(params) > 0 && params[len(params)-1] == "" {
		params = params[:len(params)-1]
	}
	if len(params) == 0 {
		return name
	}
	q := make([]string, len(params))
	for i, p := range params {
		if p != "" && strings.ContainsAny(p, `,]"[ `) {
			p = `"` + strings.ReplaceAll(p, `"`, `\"`) + `"`
		}
		q[i] = p
	}
	return name + "[" + strings.Join(q, ",") + "]"
}

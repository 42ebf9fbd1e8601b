package vpoller

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Style selects how Marshal lays out JSON text.
type Style int

const (
	// Python is json.dumps(obj, ensure_ascii=False): separators ", " and
	// ": ", raw UTF-8, no HTML escaping. The original worker encodes task
	// replies this way.
	Python Style = iota
	// PythonASCII is json.dumps(obj) with its default ensure_ascii=True:
	// every non-ASCII character as a lower-case \u escape. The original
	// worker's own error replies and the cclient helper use it.
	PythonASCII
	// Compact is Go's compact layout without HTML escaping, for places where
	// no Python peer compares bytes (the Zabbix agent protocol, logs).
	Compact
)

// Marshal encodes v (see the package value model) as JSON text in the given
// style. Values outside the model are first passed through encoding/json,
// so structs still encode, in their declared field order.
func Marshal(v any, style Style) ([]byte, error) {
	e := encoder{style: style}
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

type encoder struct {
	buf   []byte
	style Style
}

func (e *encoder) comma() {
	if e.style == Compact {
		e.buf = append(e.buf, ',')
	} else {
		e.buf = append(e.buf, ", "...)
	}
}

func (e *encoder) colon() {
	if e.style == Compact {
		e.buf = append(e.buf, ':')
	} else {
		e.buf = append(e.buf, ": "...)
	}
}

func (e *encoder) value(v any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("vpoller: value nested deeper than %d levels", maxDepth)
	}
	switch t := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case bool:
		e.buf = strconv.AppendBool(e.buf, t)
	case string:
		e.str(t)
	case json.Number:
		s := string(t)
		if s == "" || !json.Valid([]byte(s)) {
			return fmt.Errorf("vpoller: invalid number %q", s)
		}
		e.buf = append(e.buf, s...)
	case int:
		e.buf = strconv.AppendInt(e.buf, int64(t), 10)
	case int8:
		e.buf = strconv.AppendInt(e.buf, int64(t), 10)
	case int16:
		e.buf = strconv.AppendInt(e.buf, int64(t), 10)
	case int32:
		e.buf = strconv.AppendInt(e.buf, int64(t), 10)
	case int64:
		e.buf = strconv.AppendInt(e.buf, t, 10)
	case uint:
		e.buf = strconv.AppendUint(e.buf, uint64(t), 10)
	case uint8:
		e.buf = strconv.AppendUint(e.buf, uint64(t), 10)
	case uint16:
		e.buf = strconv.AppendUint(e.buf, uint64(t), 10)
	case uint32:
		e.buf = strconv.AppendUint(e.buf, uint64(t), 10)
	case uint64:
		e.buf = strconv.AppendUint(e.buf, t, 10)
	case float32:
		e.float(float64(t))
	case float64:
		e.float(t)
	case Object:
		e.buf = append(e.buf, '{')
		for i, f := range t {
			if i > 0 {
				e.comma()
			}
			e.str(f.Key)
			e.colon()
			if err := e.value(f.Value, depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		obj := make(Object, 0, len(keys))
		for _, k := range keys {
			obj = append(obj, Field{Key: k, Value: t[k]})
		}
		return e.value(obj, depth)
	case []any:
		e.buf = append(e.buf, '[')
		for i, x := range t {
			if i > 0 {
				e.comma()
			}
			if err := e.value(x, depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
	case []string:
		e.buf = append(e.buf, '[')
		for i, x := range t {
			if i > 0 {
				e.comma()
			}
			e.str(x)
		}
		e.buf = append(e.buf, ']')
	case []Object:
		e.buf = append(e.buf, '[')
		for i, x := range t {
			if i > 0 {
				e.comma()
			}
			if err := e.value(x, depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
	case json.RawMessage:
		dv, err := DecodeValue(t)
		if err != nil {
			return fmt.Errorf("vpoller: raw JSON value: %w", err)
		}
		return e.value(dv, depth)
	default:
		rv := reflect.ValueOf(v)
		if (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface || rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map) && rv.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("vpoller: encode %T: %w", v, err)
		}
		dv, err := DecodeValue(raw)
		if err != nil {
			return fmt.Errorf("vpoller: re-decode %T: %w", v, err)
		}
		return e.value(dv, depth)
	}
	return nil
}

// float writes f the way Python's float.__repr__ does (which json.dumps
// uses): shortest round-trip digits, always a fraction or an exponent, and
// exponent notation below 1e-4 and from 1e16 on. NaN and infinities are not
// JSON; they become null rather than Python's invalid NaN/Infinity tokens.
func (e *encoder) float(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		e.buf = append(e.buf, "null"...)
		return
	}
	if f == 0 {
		if math.Signbit(f) {
			e.buf = append(e.buf, "-0.0"...)
		} else {
			e.buf = append(e.buf, "0.0"...)
		}
		return
	}
	exp := int(math.Floor(math.Log10(math.Abs(f))))
	// Log10 can be off by one near powers of ten: take the exponent from
	// the shortest 'e' form instead.
	es := strconv.FormatFloat(f, 'e', -1, 64)
	if i := strings.IndexByte(es, 'e'); i >= 0 {
		if n, err := strconv.Atoi(es[i+1:]); err == nil {
			exp = n
		}
	}
	if exp < -4 || exp >= 16 {
		e.buf = append(e.buf, es...)
		return
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	e.buf = append(e.buf, s...)
	if !strings.ContainsAny(s, ".") {
		e.buf = append(e.buf, ".0"...)
	}
}

const hexDigits = "0123456789abcdef"

// str writes a JSON string with Python's escaping rules for the style.
func (e *encoder) str(s string) {
	e.buf = append(e.buf, '"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch r {
		case '"':
			e.buf = append(e.buf, '\\', '"')
			continue
		case '\\':
			e.buf = append(e.buf, '\\', '\\')
			continue
		case '\n':
			e.buf = append(e.buf, '\\', 'n')
			continue
		case '\r':
			e.buf = append(e.buf, '\\', 'r')
			continue
		case '\t':
			e.buf = append(e.buf, '\\', 't')
			continue
		case '\b':
			e.buf = append(e.buf, '\\', 'b')
			continue
		case '\f':
			e.buf = append(e.buf, '\\', 'f')
			continue
		}
		switch {
		case r < 0x20:
			e.u4(r)
		case e.style == PythonASCII && r > 0x7e:
			if r > 0xffff {
				r -= 0x10000
				e.u4(0xd800 | (r>>10)&0x3ff)
				e.u4(0xdc00 | r&0x3ff)
			} else {
				e.u4(r)
			}
		default:
			// utf8.RuneError for invalid bytes is written as U+FFFD, as a
			// Python str could never hold invalid UTF-8 in the first place.
			e.buf = utf8.AppendRune(e.buf, r)
		}
	}
	e.buf = append(e.buf, '"')
}

func (e *encoder) u4(r rune) {
	e.buf = append(e.buf, '\\', 'u',
		hexDigits[(r>>12)&0xf], hexDigits[(r>>8)&0xf], hexDigits[(r>>4)&0xf], hexDigits[r&0xf])
}

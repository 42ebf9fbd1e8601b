package vpoller

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
)

// Request keys as they appear on the wire.
const (
	KeyMethod       = "method"
	KeyHostname     = "hostname"
	KeyName         = "name"
	KeyProperties   = "properties"
	KeyKey          = "key"
	KeyUsername     = "username"
	KeyPassword     = "password"
	KeyCounterName  = "counter-name"
	KeyInstance     = "instance"
	KeyMaxSample    = "max-sample"
	KeyPerfInterval = "perf-interval"
	KeyHelper       = "helper"
)

// wireOrder is the key order of the original Python client's requests.
var wireOrder = []string{KeyMethod, KeyHostname, KeyName, KeyUsername, KeyPassword, KeyKey,
	KeyProperties, KeyCounterName, KeyInstance, KeyMaxSample, KeyPerfInterval, KeyHelper}

// Request is one vPoller task request. Empty fields mean "not given": on
// decoding, JSON null, the C module's literal "(null)" and "" all count as
// not given, which spares users the original's "Historical interval (null)
// does not exists".
type Request struct {
	Method       string
	Hostname     string
	Name         string
	Properties   []string
	Key          string
	Username     string
	Password     string
	CounterName  string
	Instance     string
	MaxSample    int // 0 = not given (methods default to 1)
	PerfInterval string
	Helper       string
}

// MessageError is a request that cannot be decoded. Msg is the text the
// original worker replies with, so clients matching on it keep working.
type MessageError struct {
	Msg string
	Err error
}

func (e *MessageError) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *MessageError) Unwrap() error { return e.Err }

// Messages of the original worker for undecodable requests.
const (
	MsgInvalidMessage = "Invalid message received"
	MsgInvalidTask    = "Invalid task request"
)

// notGiven reports whether a decoded string means "not given".
func notGiven(s string) bool { return s == "" || s == "(null)" }

// DecodeRequest parses a request frame. It accepts everything real clients
// send: null for unset keys, "(null)" from the C module, numbers as strings
// and strings as numbers, unknown keys (ignored). It never panics; a frame
// it cannot use yields a *MessageError carrying the original's message.
func DecodeRequest(data []byte) (*Request, error) {
	v, err := DecodeValue(data)
	if err != nil {
		return nil, &MessageError{Msg: MsgInvalidMessage, Err: err}
	}
	obj, ok := v.(Object)
	if !ok {
		return nil, &MessageError{Msg: fmt.Sprintf("Expected a JSON message, received <class '%s'>", pythonTypeName(v))}
	}
	r := &Request{}
	for _, f := range obj {
		var err error
		switch f.Key {
		case KeyMethod:
			r.Method, err = text(f.Value)
		case KeyHostname:
			r.Hostname, err = text(f.Value)
		case KeyName:
			r.Name, err = text(f.Value)
		case KeyKey:
			r.Key, err = text(f.Value)
		case KeyUsername:
			r.Username, err = text(f.Value)
		case KeyPassword:
			r.Password, err = text(f.Value)
		case KeyCounterName:
			r.CounterName, err = text(f.Value)
		case KeyInstance:
			r.Instance, err = text(f.Value)
		case KeyPerfInterval:
			r.PerfInterval, err = text(f.Value)
		case KeyHelper:
			r.Helper, err = text(f.Value)
		case KeyProperties:
			r.Properties, err = textList(f.Value)
		case KeyMaxSample:
			r.MaxSample, err = count(f.Value)
		default:
			continue // unknown keys are ignored, as the original does
		}
		if err != nil {
			return nil, &MessageError{Msg: MsgInvalidTask, Err: fmt.Errorf("%s: %w", f.Key, err)}
		}
	}
	return r, nil
}

func text(v any) (string, error) {
	switch t := v.(type) {
	case nil:
		return "", nil
	case string:
		if notGiven(t) {
			return "", nil
		}
		return t, nil
	case json.Number:
		return t.String(), nil
	case bool:
		if t {
			return "true", nil
		}
		return "false", nil
	default:
		return "", fmt.Errorf("expected a string, got %s", pythonTypeName(v))
	}
}

// SplitProperties splits a comma-separated property list ("a, b,c", as
// typed after -p or in a Zabbix key parameter) into trimmed names and
// drops empty ones, so a stray comma does not ask for a property that
// cannot exist. Nothing given yields nil (JSON null on the wire).
func SplitProperties(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// textList accepts a list of strings, or one string of comma-separated
// names (what a Zabbix key parameter naturally holds).
func textList(v any) ([]string, error) {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if !notGiven(s) {
			out = append(out, s)
		}
	}
	switch t := v.(type) {
	case nil:
	case string:
		for _, p := range SplitProperties(t) {
			add(p)
		}
	case []any:
		for _, x := range t {
			if x == nil {
				continue
			}
			s, err := text(x)
			if err != nil {
				return nil, fmt.Errorf("expected a list of strings: %w", err)
			}
			add(s)
		}
	default:
		return nil, fmt.Errorf("expected a list of strings, got %s", pythonTypeName(v))
	}
	return out, nil
}

func count(v any) (int, error) {
	s, err := text(v)
	if err != nil || s == "" {
		return 0, err
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f != math.Trunc(f) || f < 1 || f > 1e6 {
		return 0, errors.New("expected a whole number from 1 to 1000000")
	}
	return int(f), nil
}

// Given reports whether the request carries a value for a wire key. The
// worker uses it for each method's required keys.
func (r *Request) Given(key string) bool {
	switch key {
	case KeyMethod:
		return r.Method != ""
	case KeyHostname:
		return r.Hostname != ""
	case KeyName:
		return r.Name != ""
	case KeyProperties:
		return len(r.Properties) > 0
	case KeyKey:
		return r.Key != ""
	case KeyUsername:
		return r.Username != ""
	case KeyPassword:
		return r.Password != ""
	case KeyCounterName:
		return r.CounterName != ""
	case KeyInstance:
		return r.Instance != ""
	case KeyMaxSample:
		return r.MaxSample != 0
	case KeyPerfInterval:
		return r.PerfInterval != ""
	case KeyHelper:
		return r.Helper != ""
	}
	return false
}

// Encode returns the request as the original Python client sends it: every
// key, null when not given, Python separators. Python workers check required
// keys for presence only, so sending every key keeps them on their normal
// path.
func (r *Request) Encode() []byte {
	obj := make(Object, 0, len(wireOrder))
	str := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	for _, k := range wireOrder {
		var v any
		switch k {
		case KeyMethod:
			v = str(r.Method)
		case KeyHostname:
			v = str(r.Hostname)
		case KeyName:
			v = str(r.Name)
		case KeyUsername:
			v = str(r.Username)
		case KeyPassword:
			v = str(r.Password)
		case KeyKey:
			v = str(r.Key)
		case KeyProperties:
			if len(r.Properties) > 0 {
				v = r.Properties
			}
		case KeyCounterName:
			v = str(r.CounterName)
		case KeyInstance:
			v = str(r.Instance)
		case KeyMaxSample:
			if r.MaxSample > 0 {
				v = r.MaxSample
			}
		case KeyPerfInterval:
			v = str(r.PerfInterval)
		case KeyHelper:
			v = str(r.Helper)
		}
		obj = append(obj, Field{Key: k, Value: v})
	}
	b, err := Marshal(obj, Python)
	if err != nil {
		// Only strings, ints and string lists are encoded: cannot fail.
		panic(fmt.Sprintf("vpoller: encode request: %v", err))
	}
	return b
}

// CacheKey identifies requests that must get the same answer, so that
// identical requests in flight can share one vCenter call. The password is
// part of it (two users must not share a guest-operations answer) but never
// appears in logs: LogValue omits it.
func (r *Request) CacheKey() string {
	return string(r.Encode())
}

// LogValue keeps guest passwords out of logs.
func (r *Request) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("method", r.Method), slog.String("hostname", r.Hostname)}
	if r.Name != "" {
		attrs = append(attrs, slog.String("name", r.Name))
	}
	if len(r.Properties) > 0 {
		attrs = append(attrs, slog.Any("properties", r.Properties))
	}
	if r.CounterName != "" {
		attrs = append(attrs, slog.String("counter", r.CounterName))
	}
	if r.Password != "" {
		attrs = append(attrs, slog.String("password", "********"))
	}
	return slog.GroupValue(attrs...)
}

package vpoller

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Field is one key/value pair of an Object.
type Field struct {
	Key   string
	Value any
}

// Object is a JSON object that keeps its keys in insertion order. Python
// dicts keep insertion order and the original vPoller's replies show it
// (requested property paths in request order, alarm fields in a fixed
// order), so byte compatibility needs an ordered object rather than a Go map.
type Object []Field

// Get returns the value of key and whether it is present.
func (o Object) Get(key string) (any, bool) {
	for _, f := range o {
		if f.Key == key {
			return f.Value, true
		}
	}
	return nil, false
}

// Set replaces the value of key, or appends it when absent.
func (o *Object) Set(key string, value any) {
	for i := range *o {
		if (*o)[i].Key == key {
			(*o)[i].Value = value
			return
		}
	}
	*o = append(*o, Field{Key: key, Value: value})
}

// Keys returns the keys in order.
func (o Object) Keys() []string {
	keys := make([]string, len(o))
	for i, f := range o {
		keys[i] = f.Key
	}
	return keys
}

// MarshalJSON encodes the object compactly in key order, so that Objects
// nested in values handed to encoding/json stay ordered too.
func (o Object) MarshalJSON() ([]byte, error) {
	return Marshal(o, Compact)
}

// UnmarshalJSON decodes a JSON object keeping key order; nested values use
// the same value model as DecodeValue.
func (o *Object) UnmarshalJSON(data []byte) error {
	v, err := DecodeValue(data)
	if err != nil {
		return err
	}
	obj, ok := v.(Object)
	if !ok {
		return fmt.Errorf("vpoller: expected a JSON object, got %s", pythonTypeName(v))
	}
	*o = obj
	return nil
}

// DecodeValue parses JSON text into the package's value model: objects
// become Object (key order kept), arrays []any, numbers json.Number (so an
// integer stays an integer and a float keeps its text), strings, bools and
// nil. Trailing data after the value is an error.
func DecodeValue(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("vpoller: trailing data after JSON value")
	}
	return v, nil
}

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 200

func decodeValue(dec *json.Decoder) (any, error) {
	return decodeDepth(dec, 0)
}

func decodeDepth(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("vpoller: JSON nested deeper than %d levels", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := Object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("vpoller: object key is not a string")
				}
				val, err := decodeDepth(dec, depth+1)
				if err != nil {
					return nil, err
				}
				// Python's json keeps the last duplicate key.
				obj.Set(key, val)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				val, err := decodeDepth(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, val)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		default:
			return nil, fmt.Errorf("vpoller: unexpected %q", t)
		}
	default:
		return t, nil // string, json.Number, bool, nil
	}
}

// pythonTypeName names the Python type the original worker would report for
// a decoded JSON value (its "Expected a JSON message, received <class '...'>").
func pythonTypeName(v any) string {
	switch n := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case string:
		return "str"
	case json.Number:
		if _, err := n.Int64(); err == nil {
			return "int"
		}
		for _, c := range n.String() {
			if c == '.' || c == 'e' || c == 'E' {
				return "float"
			}
		}
		return "int"
	case []any:
		return "list"
	case Object:
		return "dict"
	default:
		return fmt.Sprintf("%T", v)
	}
}

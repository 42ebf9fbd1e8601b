package lld

import "github.com/vpoller/zabbix-vpoller/vpoller"

// asList returns the elements of a list in any form the value model uses:
// []any as decoded from the wire, []vpoller.Object as the worker builds it,
// and the plain Go slices a task might produce.
func asList(v any) ([]any, bool) {
	switch t := v.(type) {
	case []any:
		return t, true
	case []vpoller.Object:
		out := make([]any, len(t))
		for i, o := range t {
			out[i] = o
		}
		return out, true
	case []map[string]any:
		out := make([]any, len(t))
		for i, o := range t {
			out[i] = o
		}
		return out, true
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out, true
	}
	return nil, false
}

// asObject returns v as an ordered object. A Go map (no order of its own)
// gets its keys sorted, as vpoller.Marshal does.
func asObject(v any) (vpoller.Object, bool) {
	switch t := v.(type) {
	case vpoller.Object:
		return t, true
	case *vpoller.Object:
		if t == nil {
			return nil, false
		}
		return *t, true
	case map[string]any:
		b, err := vpoller.Marshal(t, vpoller.Compact)
		if err != nil {
			return nil, false
		}
		dv, err := vpoller.DecodeValue(b)
		if err != nil {
			return nil, false
		}
		o, ok := dv.(vpoller.Object)
		return o, ok
	}
	return nil, false
}

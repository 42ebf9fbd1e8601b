package vpoller

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
)

// Response is a worker's reply. Success is 0 or 1, as on the wire; Result
// is nil (omitted) on failure, otherwise a list ([]Object, []any) or, for the
// few methods the spec names, one Object.
type Response struct {
	Success   int
	Msg       string
	Result    any
	Traceback string
	// Cause is the error behind a failure, for the worker's per-vCenter
	// circuit breaker (an unreachable vCenter is told apart from a missing
	// object). It never goes on the wire.
	Cause error
}

// OK builds a success reply.
func OK(msg string, result any) *Response { return &Response{Success: 0, Msg: msg, Result: result} }

// Fail builds a failure reply with the given message.
func Fail(msg string) *Response { return &Response{Success: 1, Msg: msg} }

// Failf builds a failure reply with a formatted message.
func Failf(format string, args ...any) *Response { return Fail(fmt.Sprintf(format, args...)) }

// TaskFailed is the original's reply to a task that failed for a reason of
// its own (not a lookup or a vCenter fault): "Task <method> failed", with
// what happened as traceback. cause (may be nil) is the error behind it,
// for the worker's circuit breaker.
func TaskFailed(method, traceback string, cause error) *Response {
	return &Response{Success: 1, Msg: "Task " + method + " failed", Traceback: traceback, Cause: cause}
}

// Guard runs f and turns a panic in it into method's TaskFailed reply,
// with the panic and its stack as traceback, logged on log: a bug met by
// one request fails that request only. A nil reply from f is a failure too.
func Guard(method string, log *slog.Logger, f func() *Response) (resp *Response) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("vPoller task panicked", "method", method, "panic", r)
			resp = TaskFailed(method, fmt.Sprintf("panic: %v\n\n%s", r, debug.Stack()), nil)
		}
	}()
	if resp = f(); resp == nil {
		resp = TaskFailed(method, "handler returned no reply", nil)
	}
	return resp
}

// Failed reports whether the reply carries an error.
func (r *Response) Failed() bool { return r.Success != 0 }

// Object returns the reply as an ordered object: success, msg, then result
// and traceback when present.
func (r *Response) Object() Object {
	obj := Object{{Key: "success", Value: r.Success}, {Key: "msg", Value: r.Msg}}
	if r.Result != nil {
		obj = append(obj, Field{Key: "result", Value: r.Result})
	}
	if r.Traceback != "" {
		obj = append(obj, Field{Key: "traceback", Value: r.Traceback})
	}
	return obj
}

// EncodeFor is Encode with the key order the original uses for method:
// "msg" before "success" in successful replies to the methods whose
// MethodInfo.MsgFirst is true.
func (r *Response) EncodeFor(method string, style Style) []byte {
	mi, ok := Method(method)
	if !ok || !mi.MsgFirst() || r.Failed() {
		return r.Encode(style)
	}
	obj := r.Object()
	obj[0], obj[1] = obj[1], obj[0]
	b, err := Marshal(obj, style)
	if err != nil {
		return r.Encode(style)
	}
	return b
}

// Encode returns the reply as JSON text in the given style. A result the
// encoder cannot represent becomes a failure reply naming the problem, so
// a reply is always produced.
func (r *Response) Encode(style Style) []byte {
	b, err := Marshal(r.Object(), style)
	if err != nil {
		b, _ = Marshal(Fail("Cannot serialize result: "+err.Error()).Object(), style)
	}
	return b
}

// DecodeResponse parses a reply frame into the package's value model
// (results keep their key order and number text).
func DecodeResponse(data []byte) (*Response, error) {
	v, err := DecodeValue(data)
	if err != nil {
		return nil, fmt.Errorf("vpoller: reply is not JSON: %w", err)
	}
	obj, ok := v.(Object)
	if !ok {
		return nil, fmt.Errorf("vpoller: reply is a JSON %s, not an object", pythonTypeName(v))
	}
	r := &Response{}
	s, ok := obj.Get("success")
	if !ok {
		return nil, fmt.Errorf("vpoller: reply has no success field")
	}
	switch t := s.(type) {
	case json.Number:
		n, err := t.Int64()
		if err != nil {
			return nil, fmt.Errorf("vpoller: reply success %q is not an integer", t)
		}
		r.Success = int(n)
	default:
		return nil, fmt.Errorf("vpoller: reply success has type %s", pythonTypeName(s))
	}
	if m, ok := obj.Get("msg"); ok {
		if str, ok := m.(string); ok {
			r.Msg = str
		} else if m != nil {
			b, _ := Marshal(m, Compact)
			r.Msg = string(b)
		}
	}
	r.Result, _ = obj.Get("result")
	if tb, ok := obj.Get("traceback"); ok {
		r.Traceback, _ = tb.(string)
	}
	return r, nil
}

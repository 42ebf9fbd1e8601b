package lld

import (
	"errors"
	"fmt"
)

// ReplyError is a failed reply (success != 0). Msg is the worker's message
// verbatim ("Cannot find object vm01"), because that is what the original
// helper hands to Zabbix and what users search for.
type ReplyError struct {
	Msg string
}

func (e *ReplyError) Error() string { return e.Msg }

// UnsupportedError is a method the transformation does not handle. Its text
// is the original helper's answer, so the compatibility helper can send it
// unchanged.
type UnsupportedError struct {
	Method string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("[zbx-helper]: Do not know how to process %s method", e.Method)
}

// ValueError says why no value can be taken from a successful reply. It
// matches ErrMissingProperty or ErrNoValue under errors.Is.
type ValueError struct {
	Method string
	Reason string // e.g. "no performance samples in the result"
	kind   error  // ErrMissingProperty or ErrNoValue
}

func (e *ValueError) Error() string { return e.Method + ": " + e.Reason }

// Is lets errors.Is(err, ErrNoValue) and errors.Is(err, ErrMissingProperty)
// classify a ValueError.
func (e *ValueError) Is(target error) bool { return target == e.kind }

func noValue(format string, args ...any) error {
	return &ValueError{Reason: fmt.Sprintf(format, args...), kind: ErrNoValue}
}

// withMethod names the method in a ValueError (other errors pass through).
func withMethod(err error, method string) error {
	var ve *ValueError
	if errors.As(err, &ve) {
		ve.Method = method
		return ve
	}
	return fmt.Errorf("%s: %w", method, err)
}

// ErrMissingProperty means the result object does not carry the requested
// property at all (vSphere did not return it, or the name is wrong). The
// original helper answered null here (dict.get); the plugin wants a reason
// instead, so Item reports it and the compatibility helper maps it back to
// null. Test with errors.Is.
var ErrMissingProperty = errors.New("property not in result")

// ErrNoValue means the reply holds nothing to take a value from: an empty
// result (no performance samples), no requested property, or a result of
// the wrong shape. The original helper crashed on these and the worker sent
// "Cannot send result: str objects only"; we say what is wrong. Test with
// errors.Is.
var ErrNoValue = errors.New("no value in result")

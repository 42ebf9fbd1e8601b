package agent2

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Message types of the protocol (field "type" of every body).
const (
	TypeLog               uint32 = 1
	TypeRegister          uint32 = 2
	TypeRegisterResponse  uint32 = 3
	TypeStart             uint32 = 4
	TypeTerminate         uint32 = 5
	TypeExport            uint32 = 6
	TypeExportResponse    uint32 = 7
	TypeConfigure         uint32 = 8
	TypeValidate          uint32 = 9
	TypeValidateResponse  uint32 = 10
	interfaceExporter     uint32 = 1
	interfaceConfigurator uint32 = 2
	interfaceRunner       uint32 = 4
)

// GlobalOptions are the agent-wide settings sent with Configure.
type GlobalOptions struct {
	// Timeout is the agent's Timeout in seconds (6.0 waits PluginTimeout,
	// which defaults to it, for each Export).
	Timeout  int    `json:"Timeout"`
	SourceIP string `json:"SourceIP"`
}

// inbound is any agent->plugin message; fields not used by a type are zero.
type inbound struct {
	ID             uint32          `json:"id"`
	Type           uint32          `json:"type"`
	Version        string          `json:"version"`
	Key            string          `json:"key"`
	Parameters     []string        `json:"parameters"`
	Timeout        json.RawMessage `json:"timeout"`
	GlobalOptions  *GlobalOptions  `json:"global_options"`
	PrivateOptions json.RawMessage `json:"private_options"`
}

// header is the part every body has; decoded first so that a body whose
// other fields are malformed can still be answered by id.
type header struct {
	ID   uint32 `json:"id"`
	Type uint32 `json:"type"`
}

// decodeInbound parses a body. When only the header is usable it returns
// the header with a non-nil error, so Exports can still get an error reply.
func decodeInbound(body []byte) (inbound, error) {
	var h header
	if err := json.Unmarshal(body, &h); err != nil {
		return inbound{}, fmt.Errorf("agent2: undecodable message: %w", err)
	}
	var m inbound
	if err := json.Unmarshal(body, &m); err != nil {
		return inbound{ID: h.ID, Type: h.Type}, fmt.Errorf("agent2: malformed message type %d: %w", h.Type, err)
	}
	return m, nil
}

// exportTimeout converts the 7.0+ Export "timeout" (seconds) into a
// duration; 0 when absent (6.0) or unusable.
func exportTimeout(raw json.RawMessage) time.Duration {
	if len(raw) == 0 || string(raw) == "null" {
		return 0
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string // tolerate "10" should an agent ever quote it
		if json.Unmarshal(raw, &s) != nil {
			return 0
		}
		n = json.Number(strings.TrimSpace(s))
	}
	f, err := n.Float64()
	if err != nil || f <= 0 || math.IsInf(f, 0) || f > 24*3600 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// Outbound messages. Fields are declared in alphabetical order, the order
// the agents' own plugins produce, so frames are byte-comparable with the
// recorded transcripts.

type registerResponse struct {
	Error      string   `json:"error,omitempty"`
	ID         uint32   `json:"id"`
	Interfaces uint32   `json:"interfaces,omitempty"`
	Metrics    []string `json:"metrics,omitempty"`
	Name       string   `json:"name,omitempty"`
	Type       uint32   `json:"type"`
}

type validateResponse struct {
	Error string `json:"error,omitempty"`
	ID    uint32 `json:"id"`
	Type  uint32 `json:"type"`
}

type exportResponse struct {
	Error string  `json:"error,omitempty"`
	ID    uint32  `json:"id"`
	Type  uint32  `json:"type"`
	Value *string `json:"value,omitempty"`
}

type logRequest struct {
	ID       uint32   `json:"id"`
	Message  string   `json:"message"`
	Severity Severity `json:"severity"`
	Type     uint32   `json:"type"`
}

// encodeBody marshals an outbound message without HTML escaping (the
// agents do not need it and it would garble values containing <, > or &).
func encodeBody(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// exportReply builds the body answering Export id: the value as a JSON
// string on success (the agents mangle any other JSON type), else the error.
func exportReply(id uint32, value string, err error) []byte {
	r := exportResponse{ID: id, Type: TypeExportResponse}
	if err != nil {
		r.Error = err.Error()
		if r.Error == "" {
			r.Error = "unknown error"
		}
	} else {
		r.Value = &value
	}
	b, encErr := encodeBody(r)
	if encErr != nil { // only strings and ints: cannot fail, but never send nothing
		b, _ = encodeBody(exportResponse{ID: id, Type: TypeExportResponse, Error: "cannot encode reply"})
	}
	return b
}

// logBody builds a Log message. The agent uses the text as a printf format,
// so '%' is doubled; the id must be 0 (the agent matches non-zero ids with
// its own requests).
func logBody(sev Severity, msg string) []byte {
	b, _ := encodeBody(logRequest{ID: 0, Message: strings.ReplaceAll(msg, "%", "%%"), Severity: sev, Type: TypeLog})
	return b
}

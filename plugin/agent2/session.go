package agent2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// TerminateGrace is how long Serve waits for Exports still running when the
// agent says Terminate or closes the socket, before returning anyway.
const TerminateGrace = time.Second

// ErrRegistration reports that Register was answered with an error; the
// process must then exit (7.0.22 waits for that and hangs otherwise).
var ErrRegistration = errors.New("agent2: registration refused")

// Session is one connection to the agent: it reads requests, dispatches
// them to the plugin and serialises every reply on one writer.
type Session struct {
	p      *Plugin
	r      io.Reader
	w      io.Writer
	wmu    sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	cfgMu  sync.RWMutex
	cfgErr error // set when Configure failed: every Export reports it
	// started records Runner.Start so Stop is called once, and only after it.
	started bool
	// protocol is the version the agent's Register carried; terminated
	// tells that the session ended with Terminate (not EOF). Run reads
	// them to end the process the way the agent expects.
	protocol   string
	terminated bool
}

// NewSession prepares a session over rw (the plugin socket).
func NewSession(rw io.ReadWriter, p *Plugin) *Session {
	ctx, cancel := context.WithCancel(context.Background())
	return &Session{p: p, r: rw, w: rw, ctx: ctx, cancel: cancel}
}

// Serve runs the protocol until the agent sends Terminate (returns nil) or
// closes the socket (returns nil for a clean EOF, else the read error).
// It returns ErrRegistration, after sending the error to the agent, when the
// plugin cannot be registered.
func Serve(rw io.ReadWriter, p *Plugin) error {
	return NewSession(rw, p).Serve()
}

// Serve runs the session; see the package function Serve.
func (s *Session) Serve() (err error) {
	defer s.shutdown()
	if lr, ok := s.p.Handler.(LogReceiver); ok {
		s.safe("UseLogger", func() { lr.UseLogger(slog.New(NewLogHandler(s, slog.LevelInfo))) })
	}
	for {
		body, err := ReadFrame(s.r)
		switch {
		case err == nil:
		case errors.Is(err, ErrFrameTooLarge), errors.Is(err, ErrPayloadType):
			s.Log(SeverityWarning, err.Error()+"; frame skipped")
			continue
		case errors.Is(err, io.EOF):
			return nil
		default:
			return fmt.Errorf("agent2: reading from agent: %w", err)
		}
		done, err := s.dispatch(body)
		if done || err != nil {
			return err
		}
	}
}

// dispatch handles one message; done reports Terminate.
func (s *Session) dispatch(body []byte) (done bool, err error) {
	m, decErr := decodeInbound(body)
	if decErr != nil && m.Type == 0 {
		s.Log(SeverityWarning, decErr.Error())
		return false, nil
	}
	switch m.Type {
	case TypeRegister:
		return false, s.register(m)
	case TypeValidate:
		s.validate(m, decErr)
	case TypeConfigure:
		s.configure(m, decErr)
	case TypeStart:
		s.start()
	case TypeExport:
		s.export(m, decErr)
	case TypeTerminate:
		s.terminated = true
		return true, nil
	default:
		s.Log(SeverityWarning, fmt.Sprintf("agent2: ignoring message type %d", m.Type))
	}
	return false, nil
}

func (s *Session) register(m inbound) error {
	s.protocol = m.Version
	if err := s.p.check(); err != nil {
		s.send(registerResponse{ID: m.ID, Type: TypeRegisterResponse, Error: err.Error()})
		return fmt.Errorf("%w: %v", ErrRegistration, err)
	}
	// The protocol version is not checked: every agent from 6.0 to 7.x
	// speaks the same messages (spec, section 3).
	s.send(registerResponse{
		ID:         m.ID,
		Type:       TypeRegisterResponse,
		Interfaces: s.p.interfaces(),
		Metrics:    s.p.metricPairs(),
		Name:       s.p.Name,
	})
	return nil
}

func (s *Session) validate(m inbound, decErr error) {
	err := decErr
	if err == nil {
		if c, ok := s.p.Handler.(Configurator); ok {
			var opts *Options
			if opts, err = ParseOptions(m.PrivateOptions); err == nil {
				err = s.safeErr("Validate", func() error { return c.Validate(opts) })
			}
		}
	}
	r := validateResponse{ID: m.ID, Type: TypeValidateResponse}
	if err != nil {
		r.Error = err.Error()
	}
	s.send(r)
}

func (s *Session) configure(m inbound, decErr error) {
	err := decErr
	if err == nil {
		if c, ok := s.p.Handler.(Configurator); ok {
			var opts *Options
			if opts, err = ParseOptions(m.PrivateOptions); err == nil {
				var g GlobalOptions
				if m.GlobalOptions != nil {
					g = *m.GlobalOptions
				}
				err = s.safeErr("Configure", func() error { return c.Configure(g, opts) })
			}
		}
	}
	s.cfgMu.Lock()
	s.cfgErr = nil
	if err != nil {
		s.cfgErr = fmt.Errorf("plugin configuration failed: %w", err)
	}
	s.cfgMu.Unlock()
	if err != nil {
		s.Log(SeverityCrit, "configuration failed: "+err.Error())
	}
}

func (s *Session) start() {
	if r, ok := s.p.Handler.(Runner); ok && !s.started {
		s.started = true
		s.safe("Start", r.Start)
	}
}

func (s *Session) export(m inbound, decErr error) {
	s.cfgMu.RLock()
	cfgErr := s.cfgErr
	s.cfgMu.RUnlock()
	if decErr != nil || cfgErr != nil {
		s.sendRaw(exportReply(m.ID, "", errors.Join(decErr, cfgErr)))
		return
	}
	req := Request{ID: m.ID, Key: m.Key, Params: m.Parameters, Timeout: exportTimeout(m.Timeout)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		value, err := s.call(req)
		s.sendRaw(exportReply(req.ID, value, err))
	}()
}

// call runs the handler, turning a panic into an error for this item only.
func (s *Session) call(req Request) (value string, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.Log(SeverityCrit, fmt.Sprintf("panic in %s: %v\n%s", req.Key, r, debug.Stack()))
			value, err = "", fmt.Errorf("internal error in the plugin while computing %s: %v", req.Key, r)
		}
	}()
	return s.p.Handler.Export(s.ctx, req)
}

// shutdown cancels running Exports, waits for them briefly and stops the
// runner.
func (s *Session) shutdown() {
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(TerminateGrace):
	}
	if r, ok := s.p.Handler.(Runner); ok && s.started {
		s.started = false
		s.safe("Stop", r.Stop)
	}
}

// Log sends a message to the agent's log. Safe for concurrent use.
func (s *Session) Log(sev Severity, msg string) error {
	return s.sendRaw(logBody(sev, msg))
}

func (s *Session) send(v any) {
	b, err := encodeBody(v)
	if err != nil {
		s.Log(SeverityErr, "agent2: cannot encode reply: "+err.Error())
		return
	}
	s.sendRaw(b)
}

// sendRaw writes one frame under the writer mutex. A write error means the
// agent is gone; the read loop sees EOF and ends the session.
func (s *Session) sendRaw(body []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return WriteFrame(s.w, body)
}

func (s *Session) safe(what string, f func()) {
	_ = s.safeErr(what, func() error { f(); return nil })
}

func (s *Session) safeErr(what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.Log(SeverityCrit, fmt.Sprintf("panic in %s: %v\n%s", what, r, debug.Stack()))
			err = fmt.Errorf("internal error in the plugin during %s: %v", what, r)
		}
	}()
	return f()
}

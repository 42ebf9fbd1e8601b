package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vim25/soap"
)

// Login backoff. vCenter SSO locks an account after a few failed logins
// (5 in 180 s by default), and a worker with a wrong password would
// otherwise log in again each time its mirror retries or a request comes.
// So once vCenter refuses the agent's credentials, further logins to that
// agent are refused locally for a delay that starts at Config.LoginBackoff
// and doubles with each consecutive refusal, up to MaxLoginBackoff (or
// LoginBackoff when that is larger). With the default, at most two failed
// logins fall into any 5 minutes (2m30s, then 5 min, 10 min, 15 min...).
// A successful login ends the backoff.
//
// What counts is a login that vCenter ANSWERED with a refusal: a SOAP
// fault to Login (InvalidLogin, NotAuthenticated, NoPermission or any
// other), or HTTP 401/403 to a vAPI (REST) login. A login that got no
// answer (connection refused or reset, TLS failure, timeout, DNS) never
// reached the account check, does not count against the SSO lockout, and
// does not start the backoff: the mirror's retry pacing and the worker's
// circuit breaker deal with an unreachable agent.
const (
	DefaultLoginBackoff = 150 * time.Second
	MaxLoginBackoff     = 15 * time.Minute
)

// LoginError says that vCenter refused the agent's credentials and that
// logins to it are paused: a configuration problem (wrong user name or
// password, locked or disabled account), not an outage, so it is not a
// ConnectError and the worker's circuit breaker must not count it as
// "vCenter unreachable". Every request during the pause fails at once with
// it, naming the agent, the account and when the next login is allowed.
type LoginError struct {
	Agent    string
	Username string
	Fault    string    // what vCenter answered: "InvalidLogin", "HTTP 401"
	At       time.Time // when vCenter refused the last login
	Next     time.Time // no login is attempted before this
	Failures int       // consecutive refused logins
	Err      error     // vCenter's answer to the last login
}

func (e *LoginError) Error() string {
	return fmt.Sprintf("login to %s as %s refused by vCenter (%s) at %s; next attempt after %s",
		e.Agent, e.Username, e.Fault, e.At.Local().Format(time.TimeOnly), e.Next.Local().Format(time.TimeOnly))
}

func (e *LoginError) Unwrap() error { return e.Err }

// loginGate is one agent's login backoff. It also runs one login attempt
// at a time (SOAP first logins, SOAP re-logins and vAPI logins alike), so
// that concurrent logins with a wrong password cannot fail together
// before the first refusal is seen.
type loginGate struct {
	now       func() time.Time
	base, max time.Duration
	slot      chan struct{}

	mu     sync.Mutex
	total  uint64      // refused logins since the session was created
	streak int         // consecutive refused logins
	last   *LoginError // the last refusal while the streak lasts
}

func newLoginGate(now func() time.Time, base time.Duration) *loginGate {
	if now == nil {
		now = time.Now
	}
	if base <= 0 {
		base = DefaultLoginBackoff
	}
	return &loginGate{now: now, base: base, max: max(base, MaxLoginBackoff), slot: make(chan struct{}, 1)}
}

// refusal is the pending refusal when logins are paused now, else nil.
func (g *loginGate) refusal() *LoginError {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.last == nil || !g.now().Before(g.last.Next) {
		return nil
	}
	e := *g.last
	return &e
}

// failed records a refusal answered by vCenter and returns the error that
// pauses logins.
func (g *loginGate) failed(agent, user, fault string, err error) *LoginError {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total++
	g.streak++
	d := g.max
	if g.streak <= 30 { // beyond, the shift overflows; the cap applies long before
		d = min(g.base<<(g.streak-1), g.max)
	}
	at := g.now()
	g.last = &LoginError{Agent: agent, Username: user, Fault: fault, At: at, Next: at.Add(d), Failures: g.streak, Err: err}
	e := *g.last
	return &e
}

func (g *loginGate) succeeded() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.streak, g.last = 0, nil
}

// stats are the gate's figures for Stats.
func (g *loginGate) stats() (failed uint64, next time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.last != nil && g.now().Before(g.last.Next) {
		next = g.last.Next
	}
	return g.total, next
}

// attemptLogin runs one login through the gate: refused at once while
// logins are paused, else login, whose error (unwrapped, as govmomi
// returns it) classify reads: a non-empty fault name means vCenter
// refused the credentials, which pauses logins and becomes a LoginError.
// Other errors come back as they are.
func (s *Session) attemptLogin(ctx context.Context, what string, login func() error, classify func(error) string) error {
	if le := s.gate.refusal(); le != nil {
		return le
	}
	select {
	case s.gate.slot <- struct{}{}:
		defer func() { <-s.gate.slot }()
	case <-ctx.Done():
		return ctx.Err()
	}
	if le := s.gate.refusal(); le != nil { // the attempt before ours was refused
		return le
	}
	err := login()
	if err == nil {
		s.gate.succeeded()
		return nil
	}
	fault := classify(err)
	if fault == "" {
		return err
	}
	le := s.gate.failed(s.cfg.Name, s.cfg.Username, fault, err)
	s.log.Warn("vSphere agent refused the login; no further login before the next attempt time",
		slog.String("login", what), slog.String("username", s.cfg.Username), slog.String("fault", fault),
		slog.Any("error", err), slog.Int("consecutive_failures", le.Failures),
		slog.Time("next_attempt", le.Next))
	return le
}

// soapLoginFault names the fault vCenter answered a SOAP Login with ("" when
// it did not answer: a network or TLS error, a timeout).
func soapLoginFault(err error) string {
	if !soap.IsSoapFault(err) {
		return ""
	}
	f := soap.ToSoapFault(err)
	if vf := f.VimFault(); vf != nil {
		t := reflect.TypeOf(vf)
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		return t.Name()
	}
	if f.Code != "" {
		return f.Code
	}
	return "SOAP fault"
}

// restLoginFault names vCenter's refusal of a vAPI login: HTTP 401 or 403.
// Other statuses (404: an ESXi host has no vAPI) are not about the
// credentials.
func restLoginFault(err error) string {
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		if rest.IsStatusError(err, code) {
			return fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
		}
	}
	return ""
}

// IsLoginError reports whether err is (or wraps) a LoginError.
func IsLoginError(err error) bool {
	var le *LoginError
	return errors.As(err, &le)
}

package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vim25"

	"github.com/vpoller/zabbix-vpoller/internal/flight"
)

// vCenter's vAPI (the REST services behind /rest and /api: tagging,
// content library, ...) has sessions of its own, separate from the SOAP
// session. The agent's REST session lives here beside the SOAP one:
//
//   - it logs in lazily, on the first REST call (concurrent first callers
//     share the login), with the agent's credentials;
//   - it is made from the SOAP client, so it uses the same transport: the
//     same TLS policy (verified by default; CA file, pinned thumbprint or
//     insecure as the agent is configured) and the same connections; its
//     cookie jar is its own (the session travels in the
//     vmware-api-session-id header);
//   - every request gets the agent's timeout;
//   - a request refused as unauthenticated (HTTP 401: the session expired
//     or was deleted) makes it log in again once, shared by concurrent
//     callers, and the work is retried once;
//   - its logins go through the agent's login backoff (login.go) with
//     the SOAP ones: vCenter refusing the credentials (HTTP 401/403)
//     pauses every login to the agent;
//   - Close logs it out;
//   - REST calls are counted apart from SOAP calls (Stats.RESTCalls).

// restState is the REST half of a Session.
type restState struct {
	connect flight.Group[*rest.Client]
	mu      sync.Mutex
	rc      *rest.Client  // nil before the first login and after Close
	loginMu sync.Mutex    // serialises re-logins
	gen     atomic.Uint64 // bumped by each re-login
}

// restAttempt marks the requests of one try of the work given to REST:
// the transport records on it that vCenter answered 401, which govmomi's
// helpers do not always let through in the errors they return.
type restAttempt struct{ unauthenticated atomic.Bool }

type restAttemptKey struct{}

// REST runs f with the agent's logged-in vAPI client, logging in on first
// use. When a request of f is refused as unauthenticated, REST logs in
// again (once, shared with concurrent callers) and runs f once more, so f
// must be safe to repeat (reads are). Only a vCenter has a vAPI endpoint:
// on an ESXi host the login fails.
func (s *Session) REST(ctx context.Context, f func(context.Context, *rest.Client) error) error {
	rc, err := s.restClient(ctx)
	if err != nil {
		return err
	}
	gen := s.rest.gen.Load()
	att := &restAttempt{}
	err = f(context.WithValue(ctx, restAttemptKey{}, att), rc)
	if err == nil || !(att.unauthenticated.Load() || rest.IsStatusError(err, http.StatusUnauthorized)) {
		return err
	}
	rc, lerr := s.restRelogin(gen)
	if lerr != nil {
		return fmt.Errorf("vAPI session expired and logging in again failed: %w", lerr)
	}
	return f(context.WithValue(ctx, restAttemptKey{}, &restAttempt{}), rc)
}

// RESTSessionID is the current vAPI session id ("" before the first
// login), for tests that make vCenter forget it.
func (s *Session) RESTSessionID() string {
	s.rest.mu.Lock()
	defer s.rest.mu.Unlock()
	if s.rest.rc == nil {
		return ""
	}
	return s.rest.rc.SessionID()
}

// loggedIn is the installed REST client, nil before a login and after
// Close.
func (s *Session) loggedIn() *rest.Client {
	s.rest.mu.Lock()
	defer s.rest.mu.Unlock()
	return s.rest.rc
}

// restClient returns the logged-in REST client, logging in on first use.
func (s *Session) restClient(ctx context.Context) (*rest.Client, error) {
	if rc := s.loggedIn(); rc != nil {
		return rc, nil
	}
	// The SOAP session first: the REST client is made from its client.
	vc, err := s.Client(ctx)
	if err != nil {
		return nil, err
	}
	r := s.rest.connect.Do(ctx, "login", "vAPI login to "+s.cfg.Name, s.log, func() (*rest.Client, error) {
		if rc := s.loggedIn(); rc != nil { // a login that ended while this one was asked for
			return rc, nil
		}
		rc, err := s.restLogin(vc)
		if err != nil {
			if !IsLoginError(err) { // a refusal was logged by the login backoff
				s.log.Warn("cannot log in to the vAPI endpoint", slog.Any("config", s.cfg), slog.Any("error", err))
			}
			return nil, err
		}
		if !s.setREST(rc) {
			return nil, ErrClosed
		}
		return rc, nil
	})
	return r.Val, r.Err
}

// setREST installs a logged-in client, unless the session was closed
// meanwhile (then it logs the client out and reports false).
func (s *Session) setREST(rc *rest.Client) bool {
	s.mu.Lock() // held while installing: Close marks closed before taking the client
	if s.closed {
		s.mu.Unlock()
		s.restLogout(rc)
		return false
	}
	s.rest.mu.Lock()
	s.rest.rc = rc
	s.rest.mu.Unlock()
	s.mu.Unlock()
	return true
}

// restLogin makes a new REST client from the SOAP client (its transport,
// hence its TLS setup) and logs it in. It runs detached from any one
// request, bounded by the agent's timeout and by Close.
func (s *Session) restLogin(vc *vim25.Client) (*rest.Client, error) {
	rc := rest.NewClient(vc)
	// Its own session: not the SOAP session's cookie, which NewClient copies.
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	rc.Client.Client.Jar = jar
	rc.Client.Client.Transport = &restRT{s: s, next: rc.Client.Client.Transport}
	ctx, cancel := context.WithTimeout(s.bg, s.cfg.Timeout)
	defer cancel()
	err = s.attemptLogin(ctx, "vAPI", func() error {
		return rc.Login(ctx, url.UserPassword(s.cfg.Username, s.cfg.Password))
	}, restLoginFault)
	var le *LoginError
	switch {
	case errors.As(err, &le):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("log in to the vAPI endpoint of %s as %s: %w", s.cfg.Name, s.cfg.Username, err)
	}
	s.stats.restLogins.Add(1)
	return rc, nil
}

// restRelogin replaces the REST client by a newly logged-in one, unless
// another caller already did since the failed try started (gen tells).
func (s *Session) restRelogin(gen uint64) (*rest.Client, error) {
	s.rest.loginMu.Lock()
	defer s.rest.loginMu.Unlock()
	if s.rest.gen.Load() != gen {
		rc := s.loggedIn()
		if rc == nil {
			return nil, ErrClosed
		}
		return rc, nil
	}
	vc := s.Connected()
	if vc == nil {
		return nil, ErrClosed
	}
	s.log.Info("vAPI session expired, logging in again")
	rc, err := s.restLogin(vc)
	if err != nil {
		return nil, err
	}
	if !s.setREST(rc) {
		return nil, ErrClosed
	}
	s.rest.gen.Add(1)
	return rc, nil
}

// closeREST logs the REST session out (Close).
func (s *Session) closeREST() {
	s.rest.mu.Lock()
	rc := s.rest.rc
	s.rest.rc = nil
	s.rest.mu.Unlock()
	if rc != nil {
		s.restLogout(rc)
	}
}

func (s *Session) restLogout(rc *rest.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rc.Logout(ctx); err != nil {
		s.log.Debug("vAPI logout failed", slog.Any("error", err))
	}
}

// restRT counts each REST request, gives it the agent's timeout (until
// its body is read) and notes a 401 on the try it belongs to.
type restRT struct {
	s    *Session
	next http.RoundTripper
}

func (r *restRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r.s.stats.restCall(restCallName(req))
	ctx, cancel := context.WithTimeout(req.Context(), r.s.cfg.Timeout)
	res, err := r.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	if res.StatusCode == http.StatusUnauthorized {
		if att, ok := req.Context().Value(restAttemptKey{}).(*restAttempt); ok {
			att.unauthenticated.Store(true)
		}
	}
	res.Body = &cancelBody{ReadCloser: res.Body, cancel: cancel}
	return res, nil
}

// cancelBody ends a request's deadline when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// restCallName names a REST request for the counters: method, path below
// /rest/com/vmware/ or /api/ with ids elided, and the action:
// "POST cis/tagging/tag-association?list-attached-tags-on-objects",
// "GET cis/tagging/tag/{id}".
func restCallName(req *http.Request) string {
	p := req.URL.Path
	for _, prefix := range []string{rest.Path + "/com/vmware/", "/api/"} {
		if strings.HasPrefix(p, prefix) {
			p = p[len(prefix):]
			break
		}
	}
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if strings.HasPrefix(part, "id:") {
			parts[i] = "{id}"
		}
	}
	name := req.Method + " " + strings.Join(parts, "/")
	q := req.URL.Query()
	if a := q.Get("~action"); a != "" {
		name += "?" + a
	} else if a := q.Get("action"); a != "" {
		name += "?" + a
	}
	return name
}

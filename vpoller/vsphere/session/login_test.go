package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	govsession "github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// fakeClock is the login backoff's injected clock: it moves only when the
// test says so.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (c *fakeClock) advance(d time.Duration) { c.set(c.Now().Add(d)) }

// vCenter's side of the account: the password it accepts for the
// monitoring user (changed by the test, as an administrator would), and
// the (injected) time of every login it was asked for with that user.
type account struct {
	clock    *fakeClock
	password atomic.Value // string
	mu       sync.Mutex
	logins   []time.Time
}

const (
	monUser   = "monitoring@vsphere.local"
	monPass   = "s3cret-in-config"
	adminUser = "administrator@vsphere.local"
	adminPass = "admin-pass"
)

func (a *account) valid(req *types.Login) bool {
	if req.UserName == adminUser {
		return req.Password == adminPass
	}
	if req.UserName != monUser {
		return false
	}
	a.mu.Lock()
	a.logins = append(a.logins, a.clock.Now())
	a.mu.Unlock()
	return req.Password == a.password.Load().(string)
}

func (a *account) loginTimes() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.logins...)
}

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.Local)

// newAccountSession is a session to a simulated vCenter (named vc01)
// whose login check is acct's, with the backoff on the injected clock.
func newAccountSession(t *testing.T, vcPassword string, backoff time.Duration) (*Session, *account) {
	t.Helper()
	acct := &account{clock: &fakeClock{now: t0}}
	acct.password.Store(vcPassword)
	cfg, err := Config{Name: "vc01", Simulator: true, Username: monUser, Password: monPass, Timeout: 10 * time.Second,
		LoginBackoff: backoff}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg, Options{Now: acct.clock.Now, SimulatorSetup: func(m *simulator.Model) {
		m.Map().SessionManager().ValidLogin = acct.valid
	}})
	t.Cleanup(s.Close)
	return s, acct
}

// at formats an instant like LoginError does.
func at(d time.Duration) string { return t0.Add(d).Local().Format(time.TimeOnly) }

// TestLoginBackoffWrongPassword: with a password vCenter refuses, steady
// requests and the property mirror running, vCenter sees at most 2 logins
// in any 5 minutes of (injected) time, on the documented schedule; every
// request in between fails at once with an error naming the agent, the
// account and the next attempt, which is not a ConnectError. Once vCenter
// accepts the password, the next allowed login succeeds and the mirror
// serves; a later refusal starts the backoff from the beginning again.
func TestLoginBackoffWrongPassword(t *testing.T) {
	s, acct := newAccountSession(t, "the-real-one", 0)
	clock := acct.clock
	store, err := objects.New(s, objects.Options{Timeout: s.Timeout()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close) // before the session closes
	ctx := context.Background()

	// 30 minutes of steady requests, 3 every 10 s, while the mirror
	// retries in the background.
	const step, span = 10 * time.Second, 30 * time.Minute
	for el := time.Duration(0); el < span; el += step {
		for i := range 3 {
			_, err := store.Lookup(ctx, objects.VM, "DC0_H0_VM0")
			var le *LoginError
			if !errors.As(err, &le) {
				t.Fatalf("at +%v request %d: %v (%T), want a *LoginError", el, i, err, err)
			}
			var ce *ConnectError
			if errors.As(err, &ce) {
				t.Fatalf("at +%v: a login refusal is a ConnectError: %v", el, err)
			}
			if el == 0 {
				want := fmt.Sprintf("login to vc01 as %s refused by vCenter (InvalidLogin) at %s; next attempt after %s", monUser, at(0), at(150*time.Second))
				if err.Error() != want {
					t.Fatalf("error %q\nwant  %q", err, want)
				}
				if strings.Contains(err.Error(), monPass) {
					t.Fatal("the error names the password")
				}
			}
		}
		clock.advance(step)
	}
	// Refusals at +0, +2m30s, +7m30s, +17m30s (delays 2m30s, 5m, 10m, then
	// 15m: the next is due at +32m30s).
	want := []time.Duration{0, 150 * time.Second, 450 * time.Second, 1050 * time.Second}
	got := acct.loginTimes()
	if len(got) != len(want) {
		t.Fatalf("%d logins at %v, want %d", len(got), got, len(want))
	}
	for i := range got {
		if got[i].Sub(t0) != want[i] {
			t.Errorf("login %d at +%v, want +%v", i, got[i].Sub(t0), want[i])
		}
		if i >= 2 && got[i].Sub(got[i-2]) < 5*time.Minute {
			t.Errorf("logins %d..%d within %v: more than 2 in 5 minutes", i-2, i, got[i].Sub(got[i-2]))
		}
	}
	st := s.Stats()
	if st.Calls["Login"] != 4 || st.FailedLogins != 4 || st.Logins != 0 || !st.NextLoginAt.Equal(t0.Add(1950*time.Second)) {
		t.Fatalf("stats: Login calls %d, failed %d, logins %d, next login at %v; want 4, 4, 0, +32m30s",
			st.Calls["Login"], st.FailedLogins, st.Logins, st.NextLoginAt.Sub(t0))
	}

	// The administrator sets the password the worker has: the next
	// allowed login succeeds and ends the backoff.
	acct.password.Store(monPass)
	clock.set(st.NextLoginAt)
	if _, err := s.Client(ctx); err != nil {
		t.Fatalf("with the right password: %v", err)
	}
	if st := s.Stats(); st.Logins != 1 || st.FailedLogins != 4 || !st.NextLoginAt.IsZero() || st.Calls["Login"] != 5 {
		t.Fatalf("after the successful login: %+v", st)
	}
	// The mirror comes back too (after its own retry pause, in real time).
	guard := time.Now().Add(90 * time.Second)
	for {
		lctx, cancel := context.WithTimeout(ctx, 40*time.Second)
		_, err := store.Lookup(lctx, objects.VM, "DC0_H0_VM0")
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(guard) {
			t.Fatalf("the mirror did not serve after the login: %v", err)
		}
	}

	// The password changes on vCenter's side and vCenter drops our
	// session: the re-login is refused and the backoff starts again at
	// its first delay, not where the old streak left it.
	acct.password.Store("rotated")
	dropSession(t, s)
	vc := s.Connected()
	_, err = methods.GetCurrentTime(ctx, vc)
	var le *LoginError
	if !errors.As(err, &le) || le.Failures != 1 || le.Next.Sub(le.At) != DefaultLoginBackoff || le.Fault != "InvalidLogin" {
		t.Fatalf("call after the password changed: %v (%+v)", err, le)
	}
	before := s.Stats().Calls["Login"]
	if _, err := methods.GetCurrentTime(ctx, vc); !errors.As(err, &le) {
		t.Fatalf("second call: %v", err)
	}
	if st := s.Stats(); st.Calls["Login"] != before || st.FailedLogins != 5 {
		t.Fatalf("a paused re-login reached vCenter: %+v", st)
	}
}

// dropSession makes vCenter forget the session's login, as an
// administrator terminating it would.
func dropSession(t *testing.T, s *Session) {
	t.Helper()
	ctx := context.Background()
	ours, err := govsession.NewManager(s.Connected()).UserSession(ctx)
	if err != nil || ours == nil {
		t.Fatalf("our session: %v %v", ours, err)
	}
	u := s.Simulator().URL()
	u.User = nil
	admin, err := govmomi.NewClient(ctx, u, true)
	if err == nil {
		err = admin.Login(ctx, url.UserPassword(adminUser, adminPass))
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Logout(ctx); admin.CloseIdleConnections() }()
	if err := admin.SessionManager.TerminateSession(ctx, []string{ours.Key}); err != nil {
		t.Fatal(err)
	}
}

// TestLoginBackoffREST: the vAPI login shares the agent's backoff: vCenter
// refusing it (HTTP 401) pauses SOAP logins too.
func TestLoginBackoffREST(t *testing.T) {
	s, acct := newAccountSession(t, monPass, 0)
	ctx := context.Background()
	if _, err := s.Client(ctx); err != nil {
		t.Fatal(err)
	}
	acct.password.Store("rotated")
	calls := 0
	err := s.REST(ctx, func(context.Context, *rest.Client) error { calls++; return nil })
	var le *LoginError
	if !errors.As(err, &le) || le.Fault != "HTTP 401 Unauthorized" || calls != 0 {
		t.Fatalf("vAPI login with a rotated password: %v (%+v), work ran %d times", err, le, calls)
	}
	if st := s.Stats(); st.FailedLogins != 1 || !st.NextLoginAt.Equal(t0.Add(DefaultLoginBackoff)) || st.RESTLogins != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The SOAP re-login is paused by the vAPI refusal.
	dropSession(t, s)
	n := len(acct.loginTimes())
	if _, err := methods.GetCurrentTime(ctx, s.Connected()); !errors.As(err, &le) {
		t.Fatalf("SOAP call: %v", err)
	}
	if len(acct.loginTimes()) != n {
		t.Fatal("a SOAP re-login reached vCenter while logins were paused")
	}
}

// TestLoginBackoffNotForNetworkErrors: a refused connection never reached
// the account check, so it neither counts as a failed login nor pauses
// logins: it stays a ConnectError (vCenter unreachable).
func TestLoginBackoffNotForNetworkErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there any more: connections are refused
	cfg, err := Config{Name: "vc02", Host: "127.0.0.1", Port: port, Username: monUser, Password: monPass, Insecure: true,
		Timeout: 5 * time.Second}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: t0}
	s := New(cfg, Options{Now: clock.Now, Logger: slog.New(slog.DiscardHandler)})
	defer s.Close()
	for i := range 3 {
		_, err := s.Client(context.Background())
		var ce *ConnectError
		if !errors.As(err, &ce) || IsLoginError(err) {
			t.Fatalf("attempt %d: %v (%T), want a ConnectError", i, err, err)
		}
	}
	if st := s.Stats(); st.FailedLogins != 0 || !st.NextLoginAt.IsZero() || st.Calls["RetrieveServiceContent"] != 3 {
		t.Fatalf("stats %+v: want 3 connection attempts and no failed login", st)
	}
}

// TestLoginBackoffSchedule: the delays double from LoginBackoff up to the
// cap (MaxLoginBackoff, or LoginBackoff itself when larger), and with the
// default no 5 minutes hold more than 2 refusals.
func TestLoginBackoffSchedule(t *testing.T) {
	tests := []struct {
		base time.Duration
		want []time.Duration
	}{
		{0, []time.Duration{150 * time.Second, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 15 * time.Minute}},
		{10 * time.Second, []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second,
			320 * time.Second, 640 * time.Second, 15 * time.Minute, 15 * time.Minute}},
		{time.Hour, []time.Duration{time.Hour, time.Hour, time.Hour}},
	}
	for _, tt := range tests {
		clock := &fakeClock{now: t0}
		g := newLoginGate(clock.Now, tt.base)
		var refusals []time.Time
		for i, want := range tt.want {
			if g.refusal() != nil {
				t.Fatalf("base %v: refused before attempt %d", tt.base, i)
			}
			refusals = append(refusals, clock.Now())
			le := g.failed("vc", "u", "InvalidLogin", errors.New("no"))
			if got := le.Next.Sub(le.At); got != want || le.Failures != i+1 {
				t.Errorf("base %v, refusal %d: delay %v (failures %d), want %v", tt.base, i+1, got, le.Failures, want)
			}
			clock.set(le.Next.Add(-time.Nanosecond))
			if g.refusal() == nil {
				t.Fatalf("base %v: allowed before %v", tt.base, le.Next)
			}
			clock.set(le.Next)
		}
		if tt.base == 0 {
			for i := 2; i < len(refusals); i++ {
				if d := refusals[i].Sub(refusals[i-2]); d < 5*time.Minute {
					t.Errorf("3 refusals within %v", d)
				}
			}
		}
		g.succeeded()
		if g.refusal() != nil {
			t.Fatal("refused after a success")
		}
		if le := g.failed("vc", "u", "InvalidLogin", nil); le.Failures != 1 || le.Next.Sub(le.At) != tt.want[0] {
			t.Errorf("base %v: after a success the streak did not restart: %+v", tt.base, le)
		}
	}
	if _, err := (Config{Name: "x", Username: "u", LoginBackoff: -time.Second}).WithDefaults(); err == nil {
		t.Error("a negative login backoff was accepted")
	}
	if c, _ := (Config{Name: "x", Username: "u"}).WithDefaults(); c.LoginBackoff != DefaultLoginBackoff {
		t.Errorf("default login backoff %v", c.LoginBackoff)
	}
}

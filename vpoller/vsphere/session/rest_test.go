package session

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vapi/tags"
)

// adminREST is a second vAPI client of the simulated vCenter, logged in
// as another user would be.
func adminREST(t *testing.T, s *Session) *rest.Client {
	t.Helper()
	ctx := context.Background()
	c, err := govmomi.NewClient(ctx, s.Simulator().URL(), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Logout(ctx) })
	rc := rest.NewClient(c.Client)
	if err := rc.Login(ctx, s.Simulator().URL().User); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.Logout(ctx) })
	return rc
}

func listCategories(ctx context.Context, rc *rest.Client) error {
	_, err := tags.NewManager(rc).ListCategories(ctx)
	return err
}

// TestRESTSession: the vAPI session logs in on first use (concurrent
// first users share the login), counts its calls apart from SOAP calls,
// logs in again once when vCenter forgot it (concurrent callers share
// that login too), and is logged out by Close.
func TestRESTSession(t *testing.T) {
	s := newSimSession(t, 10*time.Second, nil)
	ctx := context.Background()
	if id := s.RESTSessionID(); id != "" {
		t.Fatalf("logged in before first use: %q", id)
	}
	done := make(chan error, 4)
	for range 4 {
		go func() { done <- s.REST(ctx, listCategories) }()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.RESTLogins != 1 || st.RESTCallsByName["POST cis/session"] != 1 || st.RESTCallsByName["GET cis/tagging/category"] != 4 || st.RESTCalls != 5 {
		t.Fatalf("after first use: logins %d, calls %d %v", st.RESTLogins, st.RESTCalls, st.RESTCallsByName)
	}
	if st.Calls["Login"] != 1 {
		t.Errorf("SOAP logins %v: REST calls must not count as SOAP calls", st.Calls)
	}
	first := s.RESTSessionID()

	// Another user deletes our vAPI session.
	admin := adminREST(t, s)
	admin.SessionID(first)
	if err := admin.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		go func() { done <- s.REST(ctx, listCategories) }()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatalf("call after the vAPI session was dropped: %v", err)
		}
	}
	if st := s.Stats(); st.RESTLogins != 2 {
		t.Fatalf("vAPI logins %d, want one re-login", st.RESTLogins)
	}
	second := s.RESTSessionID()
	if second == "" || second == first {
		t.Fatalf("session id %q after re-login (was %q)", second, first)
	}

	// An error of another kind is not retried.
	calls := s.Stats().RESTCalls
	tries := 0
	err := s.REST(ctx, func(ctx context.Context, rc *rest.Client) error {
		tries++
		_, err := tags.NewManager(rc).GetTag(ctx, "urn:vmomi:InventoryServiceTag:nosuch:GLOBAL")
		return err
	})
	if !rest.IsStatusError(err, http.StatusNotFound) || tries != 1 || s.Stats().RESTCalls != calls+1 {
		t.Errorf("unknown tag: %v after %d tries", err, tries)
	}

	// Close logs the session out (the simulator stops with it: the
	// counters tell that the logout went out).
	s.Close()
	if n := s.Stats().RESTCallsByName["DELETE cis/session"]; n != 1 {
		t.Errorf("%d vAPI logouts on Close, want 1", n)
	}
	if err := s.REST(ctx, listCategories); !errors.Is(err, ErrClosed) {
		t.Errorf("REST after Close: %v", err)
	}
}

// TestRESTOnESX: an ESXi host has no vAPI endpoint: a clear error, no
// retry loop.
func TestRESTOnESX(t *testing.T) {
	cfg, err := Config{Name: "esx", Simulator: true, SimulatorModel: "esx"}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg, Options{})
	t.Cleanup(s.Close)
	err = s.REST(context.Background(), listCategories)
	if err == nil || s.Stats().RESTLogins != 0 {
		t.Fatalf("REST on ESXi: %v", err)
	}
	t.Log(err)
}

func TestRESTCallName(t *testing.T) {
	for path, want := range map[string]string{
		"/rest/com/vmware/cis/tagging/tag/id:urn:vmomi:InventoryServiceTag:x:GLOBAL":         "GET cis/tagging/tag/{id}",
		"/rest/com/vmware/cis/tagging/tag-association?~action=list-attached-tags-on-objects": "GET cis/tagging/tag-association?list-attached-tags-on-objects",
		"/api/cis/tagging/category?action=list":                                              "GET cis/tagging/category?list",
	} {
		req, err := http.NewRequest(http.MethodGet, "https://vc"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := restCallName(req); got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
}

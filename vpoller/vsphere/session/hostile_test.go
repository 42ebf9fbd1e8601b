package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/guard"
)

// testdata/servicecontent-without-managers.xml is a
// RetrieveServiceContent answer with an About and nothing else: no
// SessionManager, no PropertyCollector. No real vCenter sends it, so an
// HTTPS server playing one is the only way to produce it (a fake for a
// fault the real part cannot make). govmomi's login dereferences the
// missing SessionManager and panics. The fault suite (row 19-10) serves
// it too.

// A vCenter answering something govmomi's login path cannot digest makes
// that login fail with an error for every caller waiting on it; the
// process goes on (the panic used to end the worker).
func TestLoginPanicIsAnError(t *testing.T) {
	body, err := os.ReadFile("testdata/servicecontent-without-managers.xml")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())
	cfg, err := Config{Name: "odd", Host: u.Hostname(), Port: port, Username: "user", Password: "pass", Insecure: true,
		Timeout: 5 * time.Second}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg, Options{})
	defer s.Close()
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := s.Client(context.Background())
			errs <- err
		}()
	}
	for range 3 {
		err := <-errs
		var pe *guard.PanicError
		if !errors.As(err, &pe) || !strings.Contains(pe.What, "vSphere login to odd") {
			t.Fatalf("login error %v (%T)", err, err)
		}
	}
}

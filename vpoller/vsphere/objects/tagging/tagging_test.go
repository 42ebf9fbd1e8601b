package tagging

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vapi/tags"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/session"
)

// TestState: requests share the attachments snapshot and the catalogue
// (no call within their TTLs); a tag created and attached since shows at
// the attachments reload, the catalogue reloading once for its unknown
// id; tags resolve sorted by category, then name.
func TestState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := session.Config{Name: "sim", Simulator: true}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	sess := session.New(cfg, session.Options{})
	t.Cleanup(sess.Close)
	if _, err := sess.Client(ctx); err != nil { // starts the simulator
		t.Fatal(err)
	}
	admin, err := govmomi.NewClient(ctx, sess.Simulator().URL(), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Logout(ctx) })
	rc := rest.NewClient(admin.Client)
	if err := rc.Login(ctx, sess.Simulator().URL().User); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.Logout(ctx) })
	m := tags.NewManager(rc)
	catIDs := map[string]string{}
	add := func(category, tag string, refs ...types.ManagedObjectReference) {
		t.Helper()
		if catIDs[category] == "" {
			id, err := m.CreateCategory(ctx, &tags.Category{Name: category, Cardinality: "MULTIPLE"})
			if err != nil {
				t.Fatal(err)
			}
			catIDs[category] = id
		}
		id, err := m.CreateTag(ctx, &tags.Tag{Name: tag, Description: tag + "!", CategoryID: catIDs[category]})
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range refs {
			if err := m.AttachTag(ctx, id, ref); err != nil {
				t.Fatal(err)
			}
		}
	}
	vm := types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-54"} // the simulator attaches tags to any reference
	add("Owner", "alice", vm)
	add("Env", "prod", vm)

	clk := testutil.NewClock(time.Unix(1e9, 0))
	st := New(sess, Options{Now: clk.Now})
	tagsOf := func() string {
		t.Helper()
		at, err := st.Attachments(ctx)
		if err != nil {
			t.Fatal(err)
		}
		list, err := st.Resolve(ctx, at.ByRef[vm], at.Loaded)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(list)
	}
	restCalls := func() uint64 { return sess.Stats().RESTCalls }

	first := tagsOf()
	if first != fmt.Sprintf("[{%s Env prod prod!} {%s Owner alice alice!}]", idOf(t, m, "prod"), idOf(t, m, "alice")) {
		t.Fatalf("tags %s", first)
	}
	before := restCalls()
	if got := tagsOf(); got != first || restCalls() != before {
		t.Errorf("within the TTLs: %s after %d calls, want the same from no call", got, restCalls()-before)
	}

	add("Env", "test", vm)
	clk.Add(AttachedTTL - time.Nanosecond)
	if got := tagsOf(); got != first {
		t.Errorf("just within the TTL: %s, want the held snapshot's", got)
	}
	clk.Add(time.Nanosecond)
	before = restCalls()
	got := tagsOf()
	if want := fmt.Sprintf("[{%s Env prod prod!} {%s Env test test!} {%s Owner alice alice!}]",
		idOf(t, m, "prod"), idOf(t, m, "test"), idOf(t, m, "alice")); got != want {
		t.Errorf("after the TTL: %s, want %s", got, want)
	}
	// The attachments (2 calls) and the catalogue for the new id (2 lists
	// and 2 categories and 3 tags read one by one).
	if n := restCalls() - before; n != 2+2+2+3 {
		t.Errorf("reload with a new tag: %d REST calls, want 9", n)
	}
}

// idOf is the id of the tag named name.
func idOf(t *testing.T, m *tags.Manager, name string) string {
	t.Helper()
	tag, err := m.GetTag(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return tag.ID
}

package vsphere

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vapi/tags"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// vSphere tags live in vCenter's tagging service, which only vAPI (REST)
// serves: these methods use the agent's REST session (session.REST), not
// the SOAP one.
//
// The catalogue (every category and tag, by id) is cached per agent and
// reloaded when a request finds it older than tagCatalogueTTL, or when an
// object carries a tag id the catalogue does not know (a tag created
// since). Loading it costs 2 + categories + tags REST calls (the tagging
// API has no call that returns many tags' details), made 8 at a time.
// Which tags an object carries is one list-attached-tags-on-objects call,
// shared by every lookup in flight (group commit: lookups arriving while
// a call is out leave together in the next one, up to maxTagBatch
// objects). tag.discover counts attached objects with one
// list-attached-objects-on-tags call for all tags.

const (
	// tagCatalogueTTL is how long the cached category/tag catalogue
	// serves before a request reloads it: a renamed tag or a changed
	// description shows within a minute.
	tagCatalogueTTL = 60 * time.Second
	// maxTagBatch bounds the objects of one attached-tags call.
	maxTagBatch = 100
	// tagFetchConcurrency bounds the catalogue load's parallel calls.
	tagFetchConcurrency = 8

	msgTags           = "Successfully retrieved tags"
	msgTagsDiscovered = "Successfully discovered tags"
)

// tagInfo is one tag as the methods report it.
type tagInfo struct {
	category, name, description string
}

// tagCatalogue is one load of an agent's categories and tags.
type tagCatalogue struct {
	loaded time.Time          // when the load started
	tags   map[string]tagInfo // by tag id
}

// tagState is an agent's tagging state: the catalogue cache and the
// attached-tags batcher. The zero value is ready.
type tagState struct {
	cat reloadable[*tagCatalogue]

	lookups tagLookups
}

// loadedAt is when the load started.
func (c *tagCatalogue) loadedAt() time.Time { return c.loaded }

// catalogue returns the cached catalogue, reloading it when it is older
// than tagCatalogueTTL or was loaded before notBefore (a request that met
// a tag id the catalogue it had did not know asks for a newer one).
func (t *tagState) catalogue(ctx context.Context, a *Agent, notBefore time.Time) (*tagCatalogue, error) {
	return t.cat.get(ctx, tagCatalogueTTL, notBefore, "the tag catalogue",
		func(ctx context.Context) (*tagCatalogue, error) { return loadTagCatalogue(ctx, a) })
}

// loadTagCatalogue reads every category and tag.
func loadTagCatalogue(ctx context.Context, a *Agent) (*tagCatalogue, error) {
	var out *tagCatalogue
	err := a.sess.REST(ctx, func(ctx context.Context, rc *rest.Client) error {
		c := &tagCatalogue{loaded: time.Now(), tags: map[string]tagInfo{}}
		m := tags.NewManager(rc)
		catIDs, err := m.ListCategories(ctx)
		if err != nil {
			return err
		}
		tagIDs, err := m.ListTags(ctx)
		if err != nil {
			return err
		}
		cats := make([]*tags.Category, len(catIDs))
		list := make([]*tags.Tag, len(tagIDs))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(tagFetchConcurrency)
		for i, id := range catIDs {
			g.Go(func() error {
				cat, err := m.GetCategory(gctx, id)
				if rest.IsStatusError(err, http.StatusNotFound) {
					return nil // deleted since it was listed
				}
				cats[i] = cat
				return err
			})
		}
		for i, id := range tagIDs {
			g.Go(func() error {
				tag, err := m.GetTag(gctx, id)
				if rest.IsStatusError(err, http.StatusNotFound) {
					return nil
				}
				list[i] = tag
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		names := map[string]string{}
		for _, cat := range cats {
			if cat != nil {
				names[cat.ID] = cat.Name
			}
		}
		for _, tag := range list {
			if tag == nil {
				continue
			}
			cat, ok := names[tag.CategoryID]
			if !ok {
				continue // its category was deleted since it was listed (and the tag with it)
			}
			c.tags[tag.ID] = tagInfo{category: cat, name: tag.Name, description: tag.Description}
		}
		out = c
		return nil
	})
	return out, err
}

// resolve names tag ids attached at or after since, reloading the
// catalogue once when it lacks one (a tag created since it was loaded);
// ids still unknown then (deleted meanwhile) are left out.
func (t *tagState) resolve(ctx context.Context, a *Agent, ids []string, since time.Time) ([]tagInfo, error) {
	cat, err := t.catalogue(ctx, a, time.Time{})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, ok := cat.tags[id]; !ok {
			if cat, err = t.catalogue(ctx, a, since); err != nil {
				return nil, err
			}
			break
		}
	}
	out := make([]tagInfo, 0, len(ids))
	for _, id := range ids {
		if ti, ok := cat.tags[id]; ok {
			out = append(out, ti)
		}
	}
	sortTags(out)
	return out, nil
}

func sortTags(list []tagInfo) {
	slices.SortFunc(list, func(x, y tagInfo) int {
		return cmp.Or(cmp.Compare(x.category, y.category), cmp.Compare(x.name, y.name))
	})
}

// tagLookups batches attached-tags lookups, group-commit style: a lookup
// finding no call in flight goes out at once, alone; lookups arriving
// while one is in flight queue, and the first of them sends the queue (up
// to maxTagBatch objects) as one call as soon as the call in flight
// returns.
type tagLookups struct {
	mu      sync.Mutex
	busy    bool
	pending []*tagRead
	// send answers a batch (sendTagLookups; tests wrap it).
	send func(ctx context.Context, a *Agent, batch []*tagRead)
}

type tagRead struct {
	ref  types.ManagedObjectReference
	lead chan struct{} // closed when this read must send the queue
	done chan struct{} // closed when ids and err are set
	ids  []string
	err  error
}

// attached returns the ids of the tags attached to ref. The wait for a
// call in flight is bounded by that call's timeout (the agent's).
func (l *tagLookups) attached(ctx context.Context, a *Agent, ref types.ManagedObjectReference) ([]string, error) {
	r := &tagRead{ref: ref, lead: make(chan struct{}), done: make(chan struct{})}
	send := sendTagLookups
	l.mu.Lock()
	if l.send != nil {
		send = l.send
	}
	var batch []*tagRead
	if !l.busy {
		l.busy = true
		l.mu.Unlock()
		batch = []*tagRead{r}
	} else {
		l.pending = append(l.pending, r)
		l.mu.Unlock()
		select {
		case <-r.done:
			return r.ids, r.err
		case <-r.lead:
		}
		l.mu.Lock()
		n := min(len(l.pending), maxTagBatch) // r is pending[0]
		batch = l.pending[:n:n]
		l.pending = append([]*tagRead(nil), l.pending[n:]...)
		l.mu.Unlock()
	}
	l.run(ctx, a, send, batch)
	return r.ids, r.err
}

// run sends batch, then hands the turn to the first queued read (or
// marks the batcher idle), even if send panics: the reads it left
// unanswered fail instead of waiting for ever, and the panic goes on to
// the request's guard.
func (l *tagLookups) run(ctx context.Context, a *Agent, send func(context.Context, *Agent, []*tagRead), batch []*tagRead) {
	defer func() {
		p := recover()
		if p != nil {
			for _, r := range batch {
				select {
				case <-r.done:
				default:
					r.err = fmt.Errorf("tag lookup failed: %v", p)
					close(r.done)
				}
			}
		}
		l.mu.Lock()
		if len(l.pending) == 0 {
			l.busy = false
		} else {
			close(l.pending[0].lead)
		}
		l.mu.Unlock()
		if p != nil {
			panic(p)
		}
	}()
	send(ctx, a, batch)
}

// sendTagLookups answers every read of batch with one call.
func sendTagLookups(ctx context.Context, a *Agent, batch []*tagRead) {
	var refs []mo.Reference
	seen := map[types.ManagedObjectReference]bool{}
	for _, r := range batch {
		if !seen[r.ref] {
			seen[r.ref] = true
			refs = append(refs, r.ref)
		}
	}
	var res []tags.AttachedTags
	err := a.sess.REST(ctx, func(ctx context.Context, rc *rest.Client) error {
		var err error
		res, err = tags.NewManager(rc).ListAttachedTagsOnObjects(ctx, refs)
		return err
	})
	byRef := map[types.ManagedObjectReference][]string{}
	for _, at := range res {
		if at.ObjectID != nil {
			byRef[at.ObjectID.Reference()] = at.TagIDs
		}
	}
	for _, r := range batch {
		r.ids, r.err = byRef[r.ref], err
		close(r.done)
	}
}

// needVCenter refuses the tag methods on an ESXi host, which has no
// tagging service.
func needVCenter(ctx context.Context, a *Agent) error {
	vc, err := a.Client(ctx)
	if err != nil {
		return err
	}
	if !vc.IsVC() {
		return errors.New("vSphere tags are a vCenter service: " + a.Name() + " is an ESXi host")
	}
	return nil
}

// failTags is fail for the tag methods: what is not a lookup or
// connection failure reads "Cannot retrieve tags: <error>".
func failTags(req *vpoller.Request, err error) *vpoller.Response {
	var le *LookupError
	var ce *ConnectError
	if errors.As(err, &le) || errors.As(err, &ce) {
		return fail(req, err)
	}
	return &vpoller.Response{Success: 1, Msg: "Cannot retrieve tags: " + err.Error(), Cause: err}
}

// tagGet (<kind>.tag.get) lists the tags attached to an object:
// [{"category", "tag", "description"}] sorted by category, then tag;
// [] for an object without tags. Cost: one REST call, shared with the
// lookups in flight, plus the catalogue when it is due.
func tagGet(k *objects.Kind) Handler {
	return func(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
		ref, err := a.store.Lookup(ctx, k, req.Name)
		if err != nil {
			return fail(req, err)
		}
		if err := needVCenter(ctx, a); err != nil {
			return failTags(req, err)
		}
		since := time.Now()
		ids, err := a.tags.lookups.attached(ctx, a, ref)
		if err != nil {
			return failTags(req, err)
		}
		list, err := a.tags.resolve(ctx, a, ids, since)
		if err != nil {
			return failTags(req, err)
		}
		out := make([]any, 0, len(list))
		for _, ti := range list {
			out = append(out, vpoller.Object{
				{Key: "category", Value: ti.category},
				{Key: "tag", Value: ti.name},
				{Key: "description", Value: ti.description},
			})
		}
		return vpoller.OK(msgTags, out)
	}
}

// tagDiscover (tag.discover) lists every tag of the catalogue:
// [{"category", "tag", "description", "objects": <attached objects>}]
// sorted by category, then tag. Cost: one REST call for the counts, plus
// the catalogue when it is due.
func tagDiscover(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	if err := needVCenter(ctx, a); err != nil {
		return failTags(req, err)
	}
	cat, err := a.tags.catalogue(ctx, a, time.Time{})
	if err != nil {
		return failTags(req, err)
	}
	ids := make([]string, 0, len(cat.tags))
	for id := range cat.tags {
		ids = append(ids, id)
	}
	counts := map[string]int64{}
	if len(ids) > 0 {
		err := a.sess.REST(ctx, func(ctx context.Context, rc *rest.Client) error {
			res, err := tags.NewManager(rc).ListAttachedObjectsOnTags(ctx, ids)
			if err != nil {
				return err
			}
			clear(counts)
			for _, ao := range res {
				counts[ao.TagID] += int64(len(ao.ObjectIDs))
			}
			return nil
		})
		if err != nil {
			return failTags(req, err)
		}
	}
	type entry struct {
		tagInfo
		objects int64
	}
	list := make([]entry, 0, len(ids))
	for _, id := range ids {
		list = append(list, entry{cat.tags[id], counts[id]})
	}
	slices.SortFunc(list, func(x, y entry) int {
		return cmp.Or(cmp.Compare(x.category, y.category), cmp.Compare(x.name, y.name))
	})
	out := make([]any, 0, len(list))
	for _, e := range list {
		out = append(out, vpoller.Object{
			{Key: "category", Value: e.category},
			{Key: "tag", Value: e.name},
			{Key: "description", Value: e.description},
			{Key: "objects", Value: e.objects},
		})
	}
	return vpoller.OK(msgTagsDiscovered, out)
}

package vsphere

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vapi/tags"
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
// Which objects carry which tags is a per-agent snapshot of every
// attachment, reloaded when a request finds it older than tagAttachedTTL:
// two REST calls (list the tag ids, then list-attached-objects-on-tags
// for all of them), shared by the requests that find it due. Every
// <kind>.tag.get and tag.discover answers from it, so the cost is fixed
// per agent whatever the number of tag items.

const (
	// tagCatalogueTTL is how long the cached category/tag catalogue
	// serves before a request reloads it: a renamed tag or a changed
	// description shows within a minute.
	tagCatalogueTTL = 60 * time.Second
	// tagAttachedTTL is how long the attachments snapshot serves before
	// a request reloads it: a tag attached or detached shows within a
	// minute, like a renamed one.
	tagAttachedTTL = 60 * time.Second
	// tagFetchConcurrency bounds the catalogue load's parallel calls.
	tagFetchConcurrency = 8
	// tagWarnEvery bounds the warnings of discoveries whose tags
	// pseudo-property cannot be read: one per agent per period, so that
	// an ESXi agent or a refused vAPI login polled every minute by many
	// discovery rules does not flood the log with the same cause.
	tagWarnEvery = 10 * time.Minute

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

// tagAttachments is one load of an agent's tag attachments.
type tagAttachments struct {
	loaded time.Time // when the load started
	byRef  map[types.ManagedObjectReference][]string
	count  map[string]int64 // attached objects per tag id
}

// tagState is an agent's tagging state: the catalogue cache and the
// attachments snapshot. The zero value is ready.
type tagState struct {
	cat      reloadable[*tagCatalogue]
	attached reloadable[*tagAttachments]
	// warned is when a discovery last warned that it could not read
	// tags (Unix nanoseconds; 0: never).
	warned atomic.Int64
}

// loadedAt is when the load started.
func (at *tagAttachments) loadedAt() time.Time { return at.loaded }

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

// attachments returns the attachments snapshot, reloading it when it is
// older than tagAttachedTTL; requests finding it due share one load, made
// on its own time limit so that a requester giving up does not fail the
// others.
func (t *tagState) attachments(ctx context.Context, a *Agent) (*tagAttachments, error) {
	return t.attached.get(ctx, tagAttachedTTL, time.Time{}, "the tag attachments",
		func(ctx context.Context) (*tagAttachments, error) {
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cmp.Or(a.cfg.Timeout, DefaultTimeout))
			defer cancel()
			return loadTagAttachments(lctx, a)
		})
}

// loadTagAttachments lists every tag id, then every tag's attached
// objects with one call.
func loadTagAttachments(ctx context.Context, a *Agent) (*tagAttachments, error) {
	at := &tagAttachments{loaded: time.Now(), byRef: map[types.ManagedObjectReference][]string{}, count: map[string]int64{}}
	err := a.sess.REST(ctx, func(ctx context.Context, rc *rest.Client) error {
		clear(at.byRef) // a retry after a re-login starts over
		clear(at.count)
		m := tags.NewManager(rc)
		ids, err := m.ListTags(ctx)
		if err != nil || len(ids) == 0 {
			return err
		}
		res, err := m.ListAttachedObjectsOnTags(ctx, ids)
		if err != nil {
			return err
		}
		for _, ao := range res {
			at.count[ao.TagID] += int64(len(ao.ObjectIDs))
			for _, obj := range ao.ObjectIDs {
				ref := obj.Reference()
				at.byRef[ref] = append(at.byRef[ref], ao.TagID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tag attachments: %w", err)
	}
	return at, nil
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
// [] for an object without tags. Cost: none while the attachments
// snapshot and the catalogue serve; their reloads when due.
func tagGet(k *objects.Kind) Handler {
	return func(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
		ref, err := a.store.Lookup(ctx, k, req.Name)
		if err != nil {
			return fail(req, err)
		}
		if err := needVCenter(ctx, a); err != nil {
			return failTags(req, err)
		}
		at, err := a.tags.attachments(ctx, a)
		if err != nil {
			return failTags(req, err)
		}
		list, err := a.tags.resolve(ctx, a, at.byRef[ref], at.loaded)
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
// sorted by category, then tag. Cost: none while the attachments
// snapshot and the catalogue serve; their reloads when due.
func tagDiscover(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	if err := needVCenter(ctx, a); err != nil {
		return failTags(req, err)
	}
	at, err := a.tags.attachments(ctx, a)
	if err != nil {
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
	counts := at.count
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

// tagStrings answers the tags pseudo-property of discoveries (see
// placement.go): for each ref carrying tags, "<category>:<tag>" sorted by
// category, then tag, joined by ", "; refs without tags are absent (their
// value is ""). It answers from the attachments snapshot and the
// catalogue, reloaded only when due: no call per object. When tags
// cannot be read (an ESXi agent, a failing vAPI session) it returns no
// tags rather than an error, and warns at most once per tagWarnEvery.
func tagStrings(ctx context.Context, a *Agent, refs []types.ManagedObjectReference) (map[types.ManagedObjectReference]string, error) {
	out, err := readTagStrings(ctx, a, refs)
	if err == nil {
		return out, nil
	}
	if ctx.Err() != nil { // the request itself is gone: nothing to answer
		return nil, err
	}
	a.tags.warnUnreadable(a.log, err)
	return map[types.ManagedObjectReference]string{}, nil
}

// readTagStrings is tagStrings with its errors.
func readTagStrings(ctx context.Context, a *Agent, refs []types.ManagedObjectReference) (map[types.ManagedObjectReference]string, error) {
	if err := needVCenter(ctx, a); err != nil {
		return nil, err
	}
	at, err := a.tags.attachments(ctx, a)
	if err != nil {
		return nil, err
	}
	out := map[types.ManagedObjectReference]string{}
	for _, r := range refs {
		ids := at.byRef[r]
		if len(ids) == 0 {
			continue
		}
		list, err := a.tags.resolve(ctx, a, ids, at.loaded)
		if err != nil {
			return nil, fmt.Errorf("tags of %s: %w", r.Value, err)
		}
		parts := make([]string, len(list))
		for i, ti := range list {
			parts[i] = ti.category + ":" + ti.name
		}
		out[r] = strings.Join(parts, ", ")
	}
	return out, nil
}

// warnUnreadable logs, at most once per tagWarnEvery, why discoveries
// answer tags "".
func (t *tagState) warnUnreadable(log *slog.Logger, err error) {
	now := time.Now().UnixNano()
	last := t.warned.Load()
	if last != 0 && now-last < int64(tagWarnEvery) {
		return
	}
	if !t.warned.CompareAndSwap(last, now) {
		return // another discovery warns
	}
	log.Warn("cannot read vSphere tags: discoveries answer tags \"\" for every object",
		slog.String("error", err.Error()), slog.Duration("next_warning_after", tagWarnEvery))
}

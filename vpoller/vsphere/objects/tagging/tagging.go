// Package tagging holds what an agent knows of vCenter's tags, read
// through vAPI (REST), the only protocol the tagging service speaks.
//
// Tags are read for every <kind>.tag.get, tag.discover and discovery that
// lists them, and change rarely, while vAPI has no call that returns many
// tags' details: one request per object would cost vCenter calls per
// Zabbix item. So an agent keeps two snapshots (objects.Snapshot): the
// catalogue of every category and tag, by id (2 + categories + tags
// calls, 8 at a time), reloaded when a minute old or when an object
// carries an id it lacks (a tag created since); and every attachment
// (two calls: the tag ids, then the objects attached to all of them),
// reloaded when a minute old. Every request answers from them, so the
// cost per agent is fixed whatever the number of tag items.
package tagging

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vapi/tags"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

const (
	// CatalogueTTL is how long the catalogue serves before a request
	// reloads it: a renamed tag or a changed description shows within a
	// minute.
	CatalogueTTL = 60 * time.Second
	// AttachedTTL is how long the attachments snapshot serves before a
	// request reloads it: a tag attached or detached shows within a
	// minute, like a renamed one.
	AttachedTTL = 60 * time.Second
	// fetchConcurrency bounds the catalogue load's parallel calls.
	fetchConcurrency = 8
)

// REST is what tagging needs of a vSphere session: calls on its
// logged-in vAPI client, logged in again when vCenter forgets it (the
// session room's Session).
type REST interface {
	REST(ctx context.Context, f func(context.Context, *rest.Client) error) error
}

// Options tune a State. Zero values take the defaults.
type Options struct {
	// Timeout bounds one shared load (objects.DefaultTimeout when zero).
	Timeout time.Duration
	// CatalogueTTL and AttachedTTL are the snapshots' TTLs
	// (CatalogueTTL and AttachedTTL when zero).
	CatalogueTTL, AttachedTTL time.Duration
	// Now is the clock of both snapshots (time.Now when nil): an
	// attachments load's stamp is compared with the catalogue's.
	Now    func() time.Time
	Logger *slog.Logger
}

// Tag is one tag as the methods report it.
type Tag struct {
	ID, Category, Name, Description string
}

// Catalogue is one load of an agent's categories and tags.
type Catalogue struct {
	Tags map[string]Tag // by tag id
}

// Attachments is one load of an agent's tag attachments.
type Attachments struct {
	Loaded time.Time                                 // when the load started
	ByRef  map[types.ManagedObjectReference][]string // tag ids by object
	Count  map[string]int64                          // attached objects per tag id
}

// State is an agent's tagging state: the catalogue and the attachments
// snapshots.
type State struct {
	cat      *objects.Snapshot[*Catalogue]
	attached *objects.Snapshot[*Attachments]
}

// New prepares the state of the agent whose session is c; it does no
// network work.
func New(c REST, o Options) *State {
	so := objects.SnapshotOptions{Timeout: o.Timeout, FailBackoff: objects.DefaultFailBackoff, Now: o.Now, Logger: o.Logger}
	cat, at := so, so
	cat.What, cat.TTL = "the tag catalogue", cmp.Or(o.CatalogueTTL, CatalogueTTL)
	at.What, at.TTL = "the tag attachments", cmp.Or(o.AttachedTTL, AttachedTTL)
	return &State{
		cat: objects.NewSnapshot(cat, func(ctx context.Context, _ time.Time) (*Catalogue, error) { return loadCatalogue(ctx, c) }),
		attached: objects.NewSnapshot(at, func(ctx context.Context, start time.Time) (*Attachments, error) {
			return loadAttachments(ctx, c, start)
		}),
	}
}

// Catalogue returns the catalogue, reloading it when it is older than its
// TTL or was loaded before notBefore (a request that met a tag id the
// catalogue it had did not know asks for a newer one; zero: any).
func (t *State) Catalogue(ctx context.Context, notBefore time.Time) (*Catalogue, error) {
	return t.cat.GetSince(ctx, notBefore)
}

// Attachments returns the attachments snapshot, reloading it when it is
// older than its TTL.
func (t *State) Attachments(ctx context.Context) (*Attachments, error) {
	return t.attached.Get(ctx)
}

// Resolve names tag ids attached at or after since (an Attachments'
// Loaded), reloading the catalogue once when it lacks one (a tag created
// since it was loaded); ids still unknown then (deleted meanwhile) are
// left out. The tags come sorted (Sort).
func (t *State) Resolve(ctx context.Context, ids []string, since time.Time) ([]Tag, error) {
	cat, err := t.Catalogue(ctx, time.Time{})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, ok := cat.Tags[id]; !ok {
			if cat, err = t.Catalogue(ctx, since); err != nil {
				return nil, err
			}
			break
		}
	}
	out := make([]Tag, 0, len(ids))
	for _, id := range ids {
		if ti, ok := cat.Tags[id]; ok {
			out = append(out, ti)
		}
	}
	Sort(out)
	return out, nil
}

// Sort orders tags by category, then name: the order of every reply.
func Sort(list []Tag) {
	slices.SortFunc(list, func(x, y Tag) int {
		return cmp.Or(cmp.Compare(x.Category, y.Category), cmp.Compare(x.Name, y.Name))
	})
}

// loadCatalogue reads every category and tag.
func loadCatalogue(ctx context.Context, c REST) (*Catalogue, error) {
	var out *Catalogue
	err := c.REST(ctx, func(ctx context.Context, rc *rest.Client) error {
		cl := &Catalogue{Tags: map[string]Tag{}}
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
		g.SetLimit(fetchConcurrency)
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
			cl.Tags[tag.ID] = Tag{ID: tag.ID, Category: cat, Name: tag.Name, Description: tag.Description}
		}
		out = cl
		return nil
	})
	return out, err
}

// loadAttachments lists every tag id, then every tag's attached objects
// with one call.
func loadAttachments(ctx context.Context, c REST, start time.Time) (*Attachments, error) {
	at := &Attachments{Loaded: start, ByRef: map[types.ManagedObjectReference][]string{}, Count: map[string]int64{}}
	err := c.REST(ctx, func(ctx context.Context, rc *rest.Client) error {
		clear(at.ByRef) // a retry after a re-login starts over
		clear(at.Count)
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
			at.Count[ao.TagID] += int64(len(ao.ObjectIDs))
			for _, obj := range ao.ObjectIDs {
				ref := obj.Reference()
				at.ByRef[ref] = append(at.ByRef[ref], ao.TagID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tag attachments: %w", err)
	}
	return at, nil
}

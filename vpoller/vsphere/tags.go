package vsphere

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects/tagging"
)

// vSphere tags live in vCenter's tagging service, which only vAPI (REST)
// serves: these methods answer from the agent's tagging snapshots
// (package tagging: the catalogue and every attachment, each reloaded
// when a minute old), so their cost per agent is fixed whatever the
// number of tag items.

const (
	// tagWarnEvery bounds the warnings of discoveries whose tags
	// pseudo-property cannot be read: one per agent per period, so that
	// an ESXi agent or a refused vAPI login polled every minute by many
	// discovery rules does not flood the log with the same cause.
	tagWarnEvery = 10 * time.Minute

	msgTags           = "Successfully retrieved tags"
	msgTagsDiscovered = "Successfully discovered tags"
)

// tagWarning is when a discovery last warned that it could not read
// tags (Unix nanoseconds; 0: never).
type tagWarning struct{ warned atomic.Int64 }

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
		at, err := a.tags.Attachments(ctx)
		if err != nil {
			return failTags(req, err)
		}
		list, err := a.tags.Resolve(ctx, at.ByRef[ref], at.Loaded)
		if err != nil {
			return failTags(req, err)
		}
		out := make([]any, 0, len(list))
		for _, ti := range list {
			out = append(out, vpoller.Object{
				{Key: "category", Value: ti.Category},
				{Key: "tag", Value: ti.Name},
				{Key: "description", Value: ti.Description},
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
	at, err := a.tags.Attachments(ctx)
	if err != nil {
		return failTags(req, err)
	}
	cat, err := a.tags.Catalogue(ctx, time.Time{})
	if err != nil {
		return failTags(req, err)
	}
	list := slices.Collect(maps.Values(cat.Tags))
	tagging.Sort(list)
	out := make([]any, 0, len(list))
	for _, ti := range list {
		out = append(out, vpoller.Object{
			{Key: "category", Value: ti.Category},
			{Key: "tag", Value: ti.Name},
			{Key: "description", Value: ti.Description},
			{Key: "objects", Value: at.Count[ti.ID]},
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
	a.tagWarning.warnUnreadable(a.log, err)
	return map[types.ManagedObjectReference]string{}, nil
}

// readTagStrings is tagStrings with its errors.
func readTagStrings(ctx context.Context, a *Agent, refs []types.ManagedObjectReference) (map[types.ManagedObjectReference]string, error) {
	if err := needVCenter(ctx, a); err != nil {
		return nil, err
	}
	at, err := a.tags.Attachments(ctx)
	if err != nil {
		return nil, err
	}
	out := map[types.ManagedObjectReference]string{}
	for _, r := range refs {
		ids := at.ByRef[r]
		if len(ids) == 0 {
			continue
		}
		list, err := a.tags.Resolve(ctx, ids, at.Loaded)
		if err != nil {
			return nil, fmt.Errorf("tags of %s: %w", r.Value, err)
		}
		parts := make([]string, len(list))
		for i, ti := range list {
			parts[i] = ti.Category + ":" + ti.Name
		}
		out[r] = strings.Join(parts, ", ")
	}
	return out, nil
}

// warnUnreadable logs, at most once per tagWarnEvery, why discoveries
// answer tags "".
func (t *tagWarning) warnUnreadable(log *slog.Logger, err error) {
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

package vsphere

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Custom attributes are vCenter's custom fields: definitions (key, name,
// the managed object type they apply to, "" for all) in the
// CustomFieldsManager's "field" property, values in each entity's
// "customValue" by key.
//
// The definitions are cached per agent and reloaded when a request finds
// them older than fieldDefsTTL, or meets a key or a name they lack (a
// field defined since): a field defined a moment ago resolves at once.
// The values are read through the store: customValue of VMs and hosts is
// watched by the mirror from the start (the templates poll it), of other
// types it joins on first read, so later reads cost no call.

const (
	// fieldDefsTTL is how long the cached field definitions serve before
	// a request reloads them (a renamed field shows within a minute).
	fieldDefsTTL = 60 * time.Second

	msgAttributes = "Successfully retrieved custom attributes"
)

// errNoCustomFields: ESXi hosts have no custom fields manager.
var errNoCustomFields = errors.New("no custom fields manager on this vSphere agent (custom attributes are a vCenter feature)")

// fieldDefs is one load of the custom field definitions.
type fieldDefs struct {
	loaded time.Time // when the load started
	byKey  map[int32]types.CustomFieldDef
}

// loadedAt is when the load started.
func (d *fieldDefs) loadedAt() time.Time { return d.loaded }

// fieldCache is an agent's cached field definitions. The zero value is
// ready.
type fieldCache struct{ defs reloadable[*fieldDefs] }

// get returns the definitions, reloading them when older than
// fieldDefsTTL or loaded before notBefore.
func (c *fieldCache) get(ctx context.Context, a *Agent, notBefore time.Time) (*fieldDefs, error) {
	return c.defs.get(ctx, fieldDefsTTL, notBefore, "the custom field definitions",
		func(ctx context.Context) (*fieldDefs, error) { return loadFieldDefs(ctx, a) })
}

// loadFieldDefs reads the CustomFieldsManager's definitions (one call).
func loadFieldDefs(ctx context.Context, a *Agent) (*fieldDefs, error) {
	d := &fieldDefs{loaded: time.Now(), byKey: map[int32]types.CustomFieldDef{}}
	vc, err := a.Client(ctx)
	if err != nil {
		return nil, err
	}
	cfm := vc.ServiceContent.CustomFieldsManager
	if cfm == nil {
		return nil, errNoCustomFields
	}
	pv, err := a.store.Get(ctx, *cfm, cfm.Value, []string{"field"})
	if err != nil {
		return nil, err
	}
	var list []types.CustomFieldDef
	switch v := pv["field"].(type) {
	case types.ArrayOfCustomFieldDef:
		list = v.CustomFieldDef
	case []types.CustomFieldDef:
		list = v
	}
	for _, f := range list {
		d.byKey[f.Key] = f
	}
	return d, nil
}

// customValues returns an object's custom field values by key.
func customValues(pv objects.Values) map[int32]string {
	var list []types.BaseCustomFieldValue
	switch v := pv["customValue"].(type) {
	case types.ArrayOfCustomFieldValue:
		list = v.CustomFieldValue
	case []types.BaseCustomFieldValue:
		list = v
	}
	out := make(map[int32]string, len(list))
	for _, b := range list {
		if v, ok := b.(*types.CustomFieldStringValue); ok {
			out[v.Key] = v.Value
		}
	}
	return out
}

// attributes maps the custom attributes of an object of type typ to
// their values: every field defined for the type (or for all types), ""
// when the object has no value for it, and any other field the object
// has a value for. ok is false when a value's key has no definition.
func (d *fieldDefs) attributes(typ string, values map[int32]string) (byName map[string]string, ok bool) {
	byName = map[string]string{}
	for _, f := range d.byKey {
		if f.ManagedObjectType == "" || f.ManagedObjectType == typ {
			byName[f.Name] = ""
		}
	}
	ok = true
	for key, v := range values {
		f, found := d.byKey[key]
		if !found {
			ok = false
			continue
		}
		byName[f.Name] = v
	}
	return byName, ok
}

// attributeGet (<kind>.attribute.get) returns an object's custom
// attributes as ONE object in a list of one, [{"<field name>": "<value>",
// ...}]: every attribute defined for its type, sorted by name, "" where
// the object has no value. A request's key and properties select
// attributes (key first, then properties, in request order): then only
// those, and a name that is not a custom field is an error ("Cannot find
// custom attribute <name>"). With vpoller.poll the property parameter
// names the attribute. Cost: the definitions when due (one call), the
// values from the property mirror (one call on the first read).
func attributeGet(k *objects.Kind) Handler {
	return func(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
		ref, err := a.store.Lookup(ctx, k, req.Name)
		if err != nil {
			return fail(req, err)
		}
		vc, err := a.Client(ctx)
		if err != nil {
			return fail(req, err)
		}
		if vc.ServiceContent.CustomFieldsManager == nil {
			return vpoller.Fail("No custom fields manager on this vSphere agent")
		}
		start := time.Now()
		pv, err := a.store.Get(ctx, ref, req.Name, []string{"customValue"})
		if err != nil {
			return fail(req, err)
		}
		values := customValues(pv)
		var names []string
		for _, n := range append([]string{req.Key}, req.Properties...) {
			if n != "" && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		resolve := func(notBefore time.Time) (map[string]string, bool, error) {
			defs, err := a.fields.get(ctx, a, notBefore)
			if err != nil {
				return nil, false, err
			}
			byName, ok := defs.attributes(ref.Type, values)
			for _, n := range names {
				if _, found := byName[n]; !found {
					ok = false
				}
			}
			return byName, ok, nil
		}
		byName, ok, err := resolve(time.Time{})
		if err == nil && !ok { // a field defined since the definitions were loaded
			byName, _, err = resolve(start)
		}
		if err != nil {
			return fail(req, err)
		}
		obj := vpoller.Object{}
		if len(names) == 0 {
			for n, v := range byName {
				obj = append(obj, vpoller.Field{Key: n, Value: v})
			}
			slices.SortFunc(obj, func(x, y vpoller.Field) int { return cmp.Compare(x.Key, y.Key) })
		}
		for _, n := range names {
			v, found := byName[n]
			if !found {
				return vpoller.Fail("Cannot find custom attribute " + n)
			}
			obj = append(obj, vpoller.Field{Key: n, Value: v})
		}
		return vpoller.OK(msgAttributes, []any{obj})
	}
}

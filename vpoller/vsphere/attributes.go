package vsphere

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Custom attributes are vCenter's custom fields: their definitions come
// from the objects room's snapshot of them (Store.FieldDefs), their values
// from each object's customValue through the mirror (watched from the
// start for VMs and hosts, which the templates poll).

const msgAttributes = "Successfully retrieved custom attributes"

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
		values := objects.CustomValues(pv)
		var names []string
		for _, n := range append([]string{req.Key}, req.Properties...) {
			if n != "" && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		resolve := func(notBefore time.Time) (map[string]string, bool, error) {
			defs, err := a.store.FieldDefs(ctx, notBefore)
			if err != nil {
				return nil, false, err
			}
			byName, ok := defs.Attributes(ref.Type, values)
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

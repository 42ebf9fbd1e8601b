package objects

import (
	"context"
	"errors"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

// Custom attributes are vCenter's custom fields: definitions (key, name,
// the managed object type they apply to, "" for all) in the
// CustomFieldsManager's "field" property, values in each entity's
// "customValue" by key. The definitions change rarely and are read by
// every attribute request, so each agent holds one snapshot of them,
// reloaded when a request finds it older than FieldDefsTTL or meets a key
// or a name it lacks (a field defined since): a field defined a moment
// ago resolves at once. The values are read through the mirror like any
// property.

// FieldDefsTTL is how long the field definitions serve before a request
// reloads them (a renamed field shows within a minute).
const FieldDefsTTL = 60 * time.Second

// ErrNoCustomFields: ESXi hosts have no custom fields manager.
var ErrNoCustomFields = errors.New("no custom fields manager on this vSphere agent (custom attributes are a vCenter feature)")

// FieldDefs is one load of the custom field definitions.
type FieldDefs struct {
	byKey map[int32]types.CustomFieldDef
}

func (s *Store) newFieldDefs() *Snapshot[*FieldDefs] {
	return NewSnapshot(SnapshotOptions{What: "the custom field definitions", TTL: FieldDefsTTL,
		Timeout: s.timeout, FailBackoff: DefaultFailBackoff, Logger: s.log}, s.loadFieldDefs)
}

// FieldDefs returns the custom field definitions, reloaded when they are
// older than a minute or were loaded before notBefore (the caller met a
// key or name they lacked; zero: any load will do).
func (s *Store) FieldDefs(ctx context.Context, notBefore time.Time) (*FieldDefs, error) {
	return s.fields.GetSince(ctx, notBefore)
}

// loadFieldDefs reads the CustomFieldsManager's definitions (one call).
func (s *Store) loadFieldDefs(ctx context.Context, _ time.Time) (*FieldDefs, error) {
	d := &FieldDefs{byKey: map[int32]types.CustomFieldDef{}}
	vc, err := s.c.Client(ctx)
	if err != nil {
		return nil, err
	}
	cfm := vc.ServiceContent.CustomFieldsManager
	if cfm == nil {
		return nil, ErrNoCustomFields
	}
	pv, err := s.Get(ctx, *cfm, cfm.Value, []string{"field"})
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

// CustomValues returns an object's custom field values by key, from its
// customValue property.
func CustomValues(pv Values) map[int32]string {
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

// Attributes maps the custom attributes of an object of type typ to
// their values: every field defined for the type (or for all types), ""
// when the object has no value for it, and any other field the object
// has a value for. ok is false when a value's key has no definition.
func (d *FieldDefs) Attributes(typ string, values map[int32]string) (byName map[string]string, ok bool) {
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

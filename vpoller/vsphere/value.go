package vsphere

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// maxValueDepth bounds the walk over data objects; vSphere data objects are
// trees, so this is only a guard against a surprise.
const maxValueDepth = 64

var timeType = reflect.TypeOf(time.Time{})

// toValue converts a property value returned by govmomi into the vpoller
// value model:
//
//   - strings and enums (string kinds) -> string; bools -> bool;
//     integers -> int64; floats -> float64 (an integer stays an integer);
//   - time.Time -> Python str(datetime) text, see pyTime;
//   - a managed object reference -> its id string, e.g. "host-30". The
//     original vPoller failed on these ("Circular reference detected"); the
//     id is what a Zabbix macro or a follow-up request (lookups accept ids)
//     can use, and the property's documented type says what it refers to;
//   - ArrayOfXxx wrappers and slices -> []any;
//   - data objects -> vpoller.Object with every field in declaration order,
//     named as on the wire; unset optional fields (nil pointers) -> nil,
//     embedded base types flattened, as pyVmomi shows them.
func toValue(v any) any {
	if v == nil {
		return nil
	}
	return convert(reflect.ValueOf(v), 0)
}

func convert(v reflect.Value, depth int) any {
	if depth > maxValueDepth || !v.IsValid() {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return convert(v.Elem(), depth+1)
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return int64(v.Uint())
	case reflect.Float32:
		// Through the shortest decimal text, so 0.1 stays 0.1, not 0.10000000149.
		f, _ := strconv.ParseFloat(strconv.FormatFloat(v.Float(), 'g', -1, 32), 64)
		return f
	case reflect.Float64:
		return v.Float()
	case reflect.Slice, reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = convert(v.Index(i), depth+1)
		}
		return out
	case reflect.Struct:
		return convertStruct(v, depth)
	case reflect.Map:
		obj := vpoller.Object{}
		iter := v.MapRange()
		for iter.Next() {
			obj = append(obj, vpoller.Field{Key: fmt.Sprint(iter.Key().Interface()), Value: convert(iter.Value(), depth+1)})
		}
		return obj
	}
	return fmt.Sprint(v.Interface())
}

func convertStruct(v reflect.Value, depth int) any {
	t := v.Type()
	if t == timeType {
		return pyTime(v.Interface().(time.Time))
	}
	if ref, ok := v.Interface().(types.ManagedObjectReference); ok {
		return ref.Value
	}
	// ArrayOfXxx: a struct whose only field is the slice.
	if t.NumField() == 1 && strings.HasPrefix(t.Name(), "ArrayOf") && t.Field(0).Type.Kind() == reflect.Slice {
		return convert(v.Field(0), depth+1)
	}
	obj := vpoller.Object{}
	addFields(&obj, v, depth)
	return obj
}

func addFields(obj *vpoller.Object, v reflect.Value, depth int) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			addFields(obj, v.Field(i), depth)
			continue
		}
		name := wireName(f)
		if name == "" {
			continue
		}
		fv := v.Field(i)
		if f.Name == "DynamicType" && fv.Kind() == reflect.String && fv.String() == "" {
			obj.Set(name, nil)
			continue
		}
		obj.Set(name, convert(fv, depth+1))
	}
}

// wireName is the field's name in the vSphere API (its xml tag), falling
// back to the Go name with a lower-case first letter.
func wireName(f reflect.StructField) string {
	tag := f.Tag.Get("xml")
	if tag == "-" {
		return ""
	}
	if name, _, _ := strings.Cut(tag, ","); name != "" {
		return name
	}
	return strings.ToLower(f.Name[:1]) + f.Name[1:]
}

// pyTime formats a time as Python's str(datetime) does for the aware
// datetimes pyVmomi returns: "2015-02-13 09:16:50.916096+00:00", without
// the fraction when the microseconds are zero. Sub-microsecond digits are
// dropped (Python has microsecond precision).
func pyTime(t time.Time) string {
	s := t.Format("2006-01-02 15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s + t.Format("-07:00")
}

// pyStr renders a property value as Python's str() would, for the
// original's session.get, which turned every value into text: None ->
// "None", booleans "True"/"False", times as pyTime.
func pyStr(v any) string {
	switch t := toValue(v).(type) {
	case nil:
		return "None"
	case string:
		return t
	case bool:
		if t {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64)
	default:
		b, err := vpoller.Marshal(t, vpoller.Python)
		if err != nil {
			return fmt.Sprint(t)
		}
		return string(b)
	}
}

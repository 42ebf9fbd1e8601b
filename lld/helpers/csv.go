package helpers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/vpoller/zabbix-vpoller/lld"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// csvHelper is vpoller.helpers.csvhelper: a header of the sorted keys of
// the first result object, then one row per result object (CRLF line ends,
// minimal quoting, as Python's csv module writes). Keys that later objects
// lack are empty, keys they add are ignored. An object result (net.host.get
// and the like) is one row; an empty result is empty output. A failed
// reply is sent as indented JSON (json.dumps(reply, indent=4)).
//
// The original only ran on Python 2 (it imports cStringIO); ours works and
// renders values as text: strings raw, null and absent keys empty, numbers
// as their JSON text, booleans true/false, lists and objects compact JSON.
func csvHelper(_ *vpoller.Request, resp *vpoller.Response) []byte {
	if resp.Failed() {
		return indented(resp)
	}
	rows, err := csvRows(resp.Result)
	if err != nil {
		return indented(vpoller.Fail("csvhelper: " + err.Error()))
	}
	if len(rows) == 0 {
		return []byte{}
	}
	header := rows[0].Keys()
	sort.Strings(header)
	var buf bytes.Buffer
	writeCSVRow(&buf, header)
	cells := make([]string, len(header))
	for _, row := range rows {
		for i, k := range header {
			v, _ := row.Get(k)
			s, err := lld.Text(v)
			if err != nil {
				return indented(vpoller.Fail("csvhelper: " + err.Error()))
			}
			cells[i] = s
		}
		writeCSVRow(&buf, cells)
	}
	return buf.Bytes()
}

// csvRows returns the result's objects: a list of objects, or one object.
func csvRows(result any) ([]vpoller.Object, error) {
	switch t := result.(type) {
	case nil:
		return nil, nil
	case vpoller.Object:
		return []vpoller.Object{t}, nil
	case []vpoller.Object:
		return t, nil
	case []any:
		rows := make([]vpoller.Object, len(t))
		for i, x := range t {
			obj, ok := x.(vpoller.Object)
			if !ok {
				return nil, fmt.Errorf("result element %d is not an object", i)
			}
			rows[i] = obj
		}
		return rows, nil
	}
	// Any other Go shape: normalise through the value model.
	b, err := vpoller.Marshal(result, vpoller.Compact)
	if err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	v, err := vpoller.DecodeValue(b)
	if err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	if _, ok := v.([]any); !ok {
		if _, ok := v.(vpoller.Object); !ok {
			return nil, fmt.Errorf("result is neither a list nor an object")
		}
	}
	return csvRows(v)
}

// writeCSVRow writes one record the way Python's csv.writer does with its
// defaults (QUOTE_MINIMAL, "\r\n"): a field is quoted only when it holds a
// comma, a quote or a line break, and a record of one empty field is
// written as "" so that it is not read back as no record. encoding/csv
// differs (it also quotes fields starting with a space), hence this writer.
func writeCSVRow(buf *bytes.Buffer, fields []string) {
	if len(fields) == 1 && fields[0] == "" {
		buf.WriteString("\"\"\r\n")
		return
	}
	for i, f := range fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		if strings.ContainsAny(f, ",\"\r\n") {
			buf.WriteByte('"')
			buf.WriteString(strings.ReplaceAll(f, `"`, `""`))
			buf.WriteByte('"')
		} else {
			buf.WriteString(f)
		}
	}
	buf.WriteString("\r\n")
}

// indented renders a reply as Python's json.dumps(reply, indent=4): ASCII
// escapes, four-space indent, "," at line ends and ": " after keys, and
// empty lists/objects as [] and {}.
func indented(resp *vpoller.Response) []byte {
	flat := resp.Encode(vpoller.PythonASCII)
	var buf bytes.Buffer
	if err := json.Indent(&buf, flat, "", "    "); err != nil {
		return flat
	}
	return buf.Bytes()
}

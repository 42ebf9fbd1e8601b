package lld

import (
	"fmt"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// Text renders an item value the way the plugin hands it to Zabbix:
// strings unquoted (Zabbix users asked not to get "poweredOn" with quotes),
// numbers as their JSON text (1234567890123, 12.5), booleans true/false,
// lists and objects as compact JSON, and null as the empty string: a
// property vSphere leaves unset (bootTime of a powered-off VM) is a
// legitimate empty text value, and numeric items still become "not
// supported" with Zabbix's own type message. Text fails only for values
// outside the value model that cannot be encoded.
func Text(v any) (string, error) {
	switch t := v.(type) {
	case nil:
		return "", nil
	case string:
		return t, nil
	case bool:
		if t {
			return "true", nil
		}
		return "false", nil
	}
	b, err := vpoller.Marshal(v, vpoller.Compact)
	if err != nil {
		return "", fmt.Errorf("lld: render value: %w", err)
	}
	return string(b), nil
}

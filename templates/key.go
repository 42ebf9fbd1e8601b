package templates

import "github.com/vpoller/zabbix-vpoller/lld"

// Key formats an item key with the grammar the agent and the plugin read
// (lld.FormatItemKey): the templates write keys, lld reads them.
func Key(name string, params ...string) string { return lld.FormatItemKey(name, params...) }

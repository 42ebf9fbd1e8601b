package templates

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
)

// UUID returns the 32-hex-digit uuid of a template object, derived from a
// stable path of names (template, kind, key...). Zabbix matches objects by
// uuid on re-import, so a uuid must not change when the object is edited
// but must differ between objects: the path is the object's identity.
// Zabbix's API insists on the UUIDv4 layout (version nibble 4, variant
// 10xx), so those bits are set on the md5 sum.
func UUID(path ...string) string {
	sum := md5.Sum([]byte("vpoller-templates/" + strings.Join(path, "/")))
	sum[6] = sum[6]&0x0f | 0x40
	sum[8] = sum[8]&0x3f | 0x80
	return hex.EncodeToString(sum[:])
}

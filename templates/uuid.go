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
func UUID(path ...string) string {
	sum := md5.Sum([]byte("vpoller-templates/" + strings.Join(path, "/")))
	return hex.EncodeToString(sum[:])
}

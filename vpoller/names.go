package vpoller

import (
	"fmt"
	"sort"
	"strings"
)

// Messages about a request's vCenter name ("hostname") that no worker or
// proxy knows. Names are matched exactly, so "VC01.example.org",
// "vc01" and "10.0.0.5" are three names other than "vc01.example.org":
// the messages list the names that are known and suggest the one meant,
// so that the reply itself names the fix.

// maxListedNames bounds the names a message lists; the rest are counted.
const maxListedNames = 20

// maxNameInMessage bounds a requested name quoted in a message (a request
// can carry any bytes).
const maxNameInMessage = 128

// NameMatchRule is what every message about an unknown vCenter name says
// about matching.
const NameMatchRule = "names are matched exactly: case matters, and a short name, an FQDN and an IP address are different names"

// ListNames renders known names for a message, sorted: at most 20, then
// "and N more"; "none" when there are none.
func ListNames(known []string) string {
	if len(known) == 0 {
		return "none"
	}
	names := append([]string(nil), known...)
	sort.Strings(names)
	if len(names) > maxListedNames {
		return strings.Join(names[:maxListedNames], ", ") + fmt.Sprintf(" and %d more", len(names)-maxListedNames)
	}
	return strings.Join(names, ", ")
}

// ClipName clips a requested name to a bounded length for a log line
// (the logger quotes it as needed).
func ClipName(name string) string {
	if len(name) > maxNameInMessage {
		return name[:maxNameInMessage] + "..."
	}
	return name
}

// QuoteName quotes a requested name for a message, clipped to a bounded
// length.
func QuoteName(name string) string {
	if len(name) > maxNameInMessage {
		return fmt.Sprintf("%q...", name[:maxNameInMessage])
	}
	return fmt.Sprintf("%q", name)
}

// NameHint is NameMatchRule, followed by a suggestion when one of known
// is probably the name meant (see ClosestName).
func NameHint(name string, known []string) string {
	if c := ClosestName(name, known); c != "" {
		return NameMatchRule + "; did you mean " + QuoteName(c) + "?"
	}
	return NameMatchRule
}

// ClosestName returns the known name that name probably means, or "": one
// that differs only in case, else one of which name is the short form
// (or the longer form) up to a dot, in any case ("vc01" for
// "vc01.example.org" and back). Several candidates of one kind: the
// first in sorted order.
func ClosestName(name string, known []string) string {
	if name == "" {
		return ""
	}
	names := append([]string(nil), known...)
	sort.Strings(names)
	for _, k := range names {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	low := strings.ToLower(name)
	for _, k := range names {
		kl := strings.ToLower(k)
		if strings.HasPrefix(kl, low+".") || strings.HasPrefix(low, kl+".") {
			return k
		}
	}
	return ""
}

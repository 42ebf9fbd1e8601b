package objects

// WatchablePath reports whether a property path may join the watched set:
// dotted names of letters, digits and underscores ("summary.quickStats",
// "config.hardware.numCPU"), at most maxPathLen bytes and maxPathParts
// parts. Anything else (a keyed element such as
// "config.hardware.device[4000]", text a client made up) is always read
// from vCenter directly, so that it can never break the shared filter.
func WatchablePath(p string) bool {
	if p == "" || len(p) > maxPathLen {
		return false
	}
	parts, start := 0, 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '.' {
			if i == start { // empty part: leading, trailing or doubled dot
				return false
			}
			parts++
			start = i + 1
			continue
		}
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return parts <= maxPathParts
}

const (
	maxPathLen   = 256
	maxPathParts = 16
)

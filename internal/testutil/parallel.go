package testutil

import (
	"flag"
	"strconv"
)

// Parallel raises the number of parallel tests (-test.parallel) to n
// unless the command line set it. The default, GOMAXPROCS, suits tests
// that keep a core busy; tests that mostly wait (on a simulated vCenter's
// delays, on a mirror's polls, each on its own simulator) then leave the
// cores idle. Call it from TestMain before m.Run.
func Parallel(n int) {
	if !flag.Parsed() {
		flag.Parse() // TestMain may; m.Run then does not parse again
	}
	f := flag.Lookup("test.parallel")
	if f == nil {
		return
	}
	set := false
	flag.Visit(func(v *flag.Flag) { set = set || v == f })
	if cur, err := strconv.Atoi(f.Value.String()); !set && err == nil && cur < n {
		_ = f.Value.Set(strconv.Itoa(n))
	}
}

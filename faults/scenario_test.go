//go:build faults

package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// scenario is one test of the suite: its directory (configuration and
// process logs), its processes and the rows it records.
type scenario struct {
	t     *testing.T
	id    string
	title string
	dir   string
	procs []*proc
	// abort is why the scenario stopped before recording its row.
	abort    string
	recorded bool
	start    time.Time
}

// newScenario prepares a scenario; at its end every process it started
// is killed (process groups), and a scenario that stopped before
// recording its row records a FAIL row saying why.
func newScenario(t *testing.T, id, title string) *scenario {
	t.Helper()
	dir := filepath.Join(suiteDir, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &scenario{t: t, id: id, title: title, dir: dir, start: time.Now()}
	fmt.Printf("[faults] %-3s %s ...\n", id, title)
	t.Logf("scenario %s: %s (files in %s)", id, title, dir)
	t.Cleanup(func() {
		if !s.recorded {
			why := s.abort
			if why == "" {
				why = "the scenario stopped early (see the test log)"
			}
			table.add(&row{ID: id, Scenario: title, Recovery: -1, RSS: "-",
				Checks: []check{{What: "scenario completes", Got: why}}})
			fmt.Printf("[faults] %-3s FAIL: did not complete: %s\n", id, why)
		}
		for i := len(s.procs) - 1; i >= 0; i-- {
			p := s.procs[i]
			if p.alive() {
				p.kill()
			}
		}
		if t.Failed() {
			for _, p := range s.procs {
				t.Logf("--- %s (pid %d) output:\n%s", p.name, p.pid(), tail(p.output(), 3000))
			}
		}
	})
	return s
}

// fatalf stops the scenario: its row says why.
func (s *scenario) fatalf(format string, args ...any) {
	s.t.Helper()
	s.abort = fmt.Sprintf(format, args...)
	s.t.Fatal(s.abort)
}

// must stops the scenario on an error.
func (s *scenario) must(err error, what string) {
	s.t.Helper()
	if err != nil {
		s.fatalf("%s: %v", what, err)
	}
}

// path names a file in the scenario's directory.
func (s *scenario) path(name string) string { return filepath.Join(s.dir, name) }

// writeFile writes a file of the scenario's directory and returns its path.
func (s *scenario) writeFile(name, text string, mode os.FileMode) string {
	s.t.Helper()
	p := s.path(name)
	s.must(os.MkdirAll(filepath.Dir(p), 0o755), "mkdir")
	s.must(os.WriteFile(p, []byte(text), mode), "write "+name)
	s.must(os.Chmod(p, mode), "chmod "+name)
	return p
}

// health is the check every row carries: no process of the scenario
// panicked (no "panic:" and no goroutine trace in its output) and none
// exited unless the scenario ended it.
func (s *scenario) health() check {
	var problems, names []string
	for _, p := range s.procs {
		names = append(names, p.name)
		if pr := p.problem(); pr != "" {
			problems = append(problems, pr)
		}
	}
	got := fmt.Sprintf("%d processes watched, 0 problems", len(names))
	if len(problems) > 0 {
		got = strings.Join(problems, "; ")
	}
	return check{What: "0 panics and 0 unexpected exits in every process of the scenario", Got: got, OK: len(problems) == 0}
}

// record adds the row (with the health check appended) to the table and
// fails the test when a criterion did not hold.
func (s *scenario) record(r *row) {
	s.t.Helper()
	if r.ID == "" {
		r.ID = s.id
	}
	if r.Scenario == "" {
		r.Scenario = s.title
	}
	r.Checks = append(r.Checks, s.health())
	table.add(r)
	s.recorded = true
	for _, c := range r.Checks {
		if !c.OK {
			s.t.Errorf("%s %s: FAIL %s [%s]", r.ID, r.Scenario, c.What, c.Got)
		}
	}
	fmt.Printf("[faults] %-3s %s in %s\n", r.ID, verdict(r.Pass()), time.Since(s.start).Round(100*time.Millisecond))
}

// checks builds a row's criteria.
type checks []check

func (c *checks) add(ok bool, what string, got string, args ...any) {
	text := strings.Join(strings.Fields(fmt.Sprintf(got, args...)), " ") // one line
	*c = append(*c, check{What: what, Got: text, OK: ok})
}

// until polls cond every step until it is true or d has passed; it
// reports whether cond became true and how long that took.
func until(d, step time.Duration, cond func() bool) (bool, time.Duration) {
	start := time.Now()
	for {
		if cond() {
			return true, time.Since(start)
		}
		if time.Since(start) > d {
			return false, time.Since(start)
		}
		time.Sleep(step)
	}
}

//go:build faults

package faults

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// counts are a scenario's requests: sent, answered with success, lost (no
// reply at all within the client's time limit) and errored (a reply that
// says the request failed). Requests nil: the scenario sends none.
type counts struct {
	Sent, Answered, Lost, Errored int
}

// check is one numeric criterion of a row and what was measured.
type check struct {
	What string // the criterion, e.g. "lost == 0"
	Got  string // the measurement, e.g. "0"
	OK   bool
}

// row is one line of the table.
type row struct {
	ID       string
	Scenario string
	Requests *counts
	// Recovery is the scenario's recovery time (see docs/faults.md for
	// what each scenario measures); < 0: not applicable.
	Recovery time.Duration
	// RSS is the peak resident set (VmHWM) of the relevant process, with
	// its name, e.g. "proxy 41 MB".
	RSS    string
	Checks []check
}

// Pass reports whether every criterion of the row held.
func (r *row) Pass() bool {
	if len(r.Checks) == 0 {
		return false
	}
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// results collects the rows of the whole suite, in the order recorded.
type results struct {
	mu   sync.Mutex
	rows []*row
}

var table = &results{}

func (r *results) add(x *row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, x)
}

func (r *results) failed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range r.rows {
		if !x.Pass() {
			n++
		}
	}
	return n
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func num(n int, have bool) string {
	if !have {
		return "-"
	}
	return fmt.Sprint(n)
}

func dur(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// print writes the table and, below it, every row's criteria with their
// measurements.
func (r *results) print(w io.Writer, wall time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	failed := 0
	for _, x := range r.rows {
		if !x.Pass() {
			failed++
		}
	}
	head := []string{"#", "Scenario", "Sent", "Answered", "Lost", "Errored", "Recovery", "Peak RSS", "Verdict"}
	lines := [][]string{head}
	for _, x := range r.rows {
		c, have := counts{}, x.Requests != nil
		if have {
			c = *x.Requests
		}
		lines = append(lines, []string{x.ID, x.Scenario, num(c.Sent, have), num(c.Answered, have), num(c.Lost, have),
			num(c.Errored, have), dur(x.Recovery), x.RSS, verdict(x.Pass())})
	}
	width := make([]int, len(head))
	for _, l := range lines {
		for i, cell := range l {
			width[i] = max(width[i], len(cell))
		}
	}
	rule := strings.Repeat("=", sum(width)+2*(len(width)-1))
	fmt.Fprintf(w, "\n%s\nvPoller fault suite: %d scenarios, %d passed, %d failed, wall time %s\n%s\n",
		rule, len(r.rows), len(r.rows)-failed, failed, wall.Round(time.Second), rule)
	for i, l := range lines {
		var b strings.Builder
		for j, cell := range l {
			if j > 0 {
				b.WriteString("  ")
			}
			// Numbers right-aligned, text left-aligned.
			if j >= 2 && j <= 6 {
				fmt.Fprintf(&b, "%*s", width[j], cell)
			} else {
				fmt.Fprintf(&b, "%-*s", width[j], cell)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if i == 0 {
			fmt.Fprintln(w, strings.Repeat("-", len(rule)))
		}
	}
	fmt.Fprintf(w, "%s\nCriteria (measured value in brackets):\n", rule)
	for _, x := range r.rows {
		fmt.Fprintf(w, "%-3s %s  %s\n", x.ID, verdict(x.Pass()), x.Scenario)
		if len(x.Checks) == 0 {
			fmt.Fprintln(w, "      FAIL  the scenario recorded no criterion")
		}
		for _, c := range x.Checks {
			fmt.Fprintf(w, "      %s  %s [%s]\n", verdict(c.OK), c.What, c.Got)
		}
	}
	fmt.Fprintln(w, rule)
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

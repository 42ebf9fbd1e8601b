//go:build faults

package faults

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// proc is one process started by a scenario, in a process group of its
// own (so that its children die with it), killed should the test binary
// die (Pdeathsig). Its stdout and stderr go to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string // path of the output file
	done chan struct{}
	// firstLine receives the first stdout line (the simulator's address).
	firstLine chan string

	mu      sync.Mutex
	waitErr error
	// expected is set when the scenario ends the process on purpose, so
	// that its exit is not counted as a failure.
	expected atomic.Bool
}

type spawnOpts struct {
	dir string
	env []string
}

// spawn starts bin with args; the scenario stops it at the end.
func (s *scenario) spawn(name, bin string, args []string, o spawnOpts) *proc {
	s.t.Helper()
	logPath := filepath.Join(s.dir, fmt.Sprintf("%s.%d.log", name, len(s.procs)))
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.fatalf("log file for %s: %v", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = o.dir
	cmd.Env = append(os.Environ(), o.env...)
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		f.Close()
		s.fatalf("stdout of %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{}), firstLine: make(chan string, 1)}
	if err := cmd.Start(); err != nil {
		f.Close()
		s.fatalf("start %s (%s): %v", name, bin, err)
	}
	var copied sync.WaitGroup
	copied.Go(func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		first := true
		for sc.Scan() {
			if first {
				p.firstLine <- sc.Text()
				first = false
			}
			_, _ = fmt.Fprintln(f, sc.Text())
		}
	})
	go func() {
		copied.Wait() // Wait closes the pipe: read it to its end first
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		f.Close()
		close(p.done)
	}()
	s.procs = append(s.procs, p)
	return p
}

// pid is the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// alive reports whether the process has not exited.
func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// wait waits up to d for the exit; it reports whether the process exited.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// exitCode is the exit status (-1 while running or when killed by a signal).
func (p *proc) exitCode() int {
	if p.alive() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// signal sends sig to the process (not its group).
func (p *proc) signal(sig syscall.Signal) {
	_ = p.cmd.Process.Signal(sig)
}

// kill ends the process group with SIGKILL on purpose and waits for it.
func (p *proc) kill() {
	p.expected.Store(true)
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	_ = syscall.Kill(p.pid(), syscall.SIGCONT) // a stopped process dies on SIGKILL anyway; harmless
	p.wait(10 * time.Second)
}

// terminate sends SIGTERM on purpose and waits up to d, then kills.
func (p *proc) terminate(d time.Duration) {
	p.expected.Store(true)
	p.signal(syscall.SIGTERM)
	if !p.wait(d) {
		p.kill()
	}
}

// output returns what the process wrote so far.
func (p *proc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// hwm returns the peak resident set size (VmHWM) in bytes; 0 if unknown.
func (p *proc) hwm() int64 {
	return procStatusKB(p.pid(), "VmHWM") << 10
}

// rss returns the current resident set size (VmRSS) in bytes.
func (p *proc) rss() int64 {
	return procStatusKB(p.pid(), "VmRSS") << 10
}

func procStatusKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// openFDs counts the process's open file descriptors.
func (p *proc) openFDs() int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.pid()))
	return len(ents)
}

// panicRE matches a Go panic or fatal error and a goroutine trace.
var panicRE = regexp.MustCompile(`(?m)^(panic: |fatal error: |goroutine \d+ \[running\]:)`)

// panics counts panic reports and goroutine traces in the output.
func (p *proc) panics() int {
	return len(panicRE.FindAllString(p.output(), -1))
}

// problem describes a panic or an unexpected exit, "" when there is none.
func (p *proc) problem() string {
	var parts []string
	if n := p.panics(); n > 0 {
		parts = append(parts, fmt.Sprintf("%d panic/trace lines", n))
	}
	if !p.alive() && !p.expected.Load() {
		p.mu.Lock()
		err := p.waitErr
		p.mu.Unlock()
		parts = append(parts, fmt.Sprintf("exited unexpectedly (%v)", err))
	}
	if len(parts) == 0 {
		return ""
	}
	return p.name + ": " + strings.Join(parts, ", ")
}

// mb formats bytes as whole megabytes.
func mb(n int64) string { return fmt.Sprintf("%d MB", (n+(1<<19))>>20) }

// tail is the end of s, for failure messages.
func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// runCmd runs a short-lived command (a CLI call) within d and returns its
// combined output and exit code (-1: did not finish or did not start).
func runCmd(d time.Duration, bin string, args ...string) (string, int, error) {
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", -1, fmt.Errorf("start %s: %w", bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return out.String(), -1, fmt.Errorf("%s: %w", bin, err)
		}
		return out.String(), cmd.ProcessState.ExitCode(), nil
	case <-time.After(d):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return out.String(), -1, fmt.Errorf("%s %s: still running after %s", bin, strings.Join(args, " "), d)
	}
}

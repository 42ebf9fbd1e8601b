package testutil

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PythonPath is Debian's python3, the one python3-zmq is installed for (a
// python3 earlier on PATH, from pyenv for instance, may not have it). The
// environment variable PYTHON3 overrides it.
const PythonPath = "/usr/bin/python3"

// Python returns PythonPath (or $PYTHON3) after checking that python3-zmq (and, when
// curve is true, its CURVE support) is there: the tests need a real
// libzmq peer, and scripts/install-test-deps.sh installs it.
func Python(tb testing.TB, curve bool) string {
	tb.Helper()
	check := "import zmq"
	if curve {
		check = "import zmq; assert zmq.has('curve')"
	}
	py := os.Getenv("PYTHON3")
	if py == "" {
		py = PythonPath
	}
	if out, err := exec.Command(py, "-c", check).CombinedOutput(); err != nil {
		tb.Fatalf("%s with python3-zmq is required (scripts/install-test-deps.sh installs it): %v\n%s", py, err, out)
	}
	return py
}

// Peer is a running python3-zmq script.
type Peer struct {
	// Line is the first line the script printed (its port or endpoint).
	Line  string
	Stdin io.WriteCloser
	cmd   *exec.Cmd
	out   strings.Builder
	once  sync.Once
	lines chan string
}

// Next returns the next line the script prints on stdout, failing the
// test when none comes within timeout or the script ends.
func (p *Peer) Next(tb testing.TB, timeout time.Duration) string {
	tb.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			tb.Fatalf("python ended; stderr:\n%s", p.Stop())
		}
		return l
	case <-time.After(timeout):
		tb.Fatalf("no line from python within %s; stderr:\n%s", timeout, p.Stop())
	}
	return ""
}

// Stop ends the script (stdin closed, then SIGKILL to its process group)
// and returns what it wrote on stderr. The test's cleanup calls it too.
func (p *Peer) Stop() string {
	p.once.Do(func() {
		_ = p.Stdin.Close()
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		_ = p.cmd.Wait()
	})
	return p.out.String()
}

// StartPython starts python3 with args (a script path or "-c", code, ...),
// waits up to 10 s for the first line it prints on stdout (Line; Next
// reads the ones after it), and stops it (stdin closed, then SIGKILL) when
// the test ends.
func StartPython(tb testing.TB, args ...string) *Peer {
	tb.Helper()
	p := &Peer{cmd: exec.Command(Python(tb, false), args...), lines: make(chan string, 1024)}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.Stderr = &p.out
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if p.Stdin, err = p.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Stop() })
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			p.lines <- strings.TrimRight(sc.Text(), "\r")
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-p.lines:
		p.Line = strings.TrimSpace(l)
	case <-time.After(10 * time.Second):
	}
	if p.Line == "" {
		tb.Fatalf("python3 %s printed nothing; stderr:\n%s", strings.Join(args, " "), p.Stop())
	}
	return p
}

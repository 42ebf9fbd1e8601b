//go:build faults

package faults

import (
	"os"
	"strings"
	"testing"
	"time"
)

// 12. A per-vCenter file that group or others can write (mode 0602: the
// issue's example) is refused: whoever can write it chooses the vCenter
// and its TLS policy. The worker does not start and says why (exit 1).
func Test12WritableAgentFile(t *testing.T) {
	s := newScenario(t, "12", "world-writable (0602) per-vCenter file refused")
	vc := &vcenter{name: "127.0.0.1", port: 443, thumbprint: strings.Repeat("AB:", 31) + "AB"}
	conf := s.writeFile("worker.conf", "[worker]\nproxy = tcp://127.0.0.1:1\nmgmt = ipc://"+s.path("run/worker.sock")+
		"\nvsphere_hosts_dir = vsphere.d\n", 0o600)
	file := s.writeFile("vsphere.d/127.0.0.1.conf", vc.agentFile(0), 0o602)
	st, err := os.Stat(file)
	s.must(err, "stat")
	out, code, err := runCmd(15*time.Second, bins.worker, "-f", conf, "start")
	var ck checks
	ck.add(st.Mode().Perm() == 0o602, "the file is mode 0602", "%04o", st.Mode().Perm())
	ck.add(err == nil && code == 1 && strings.Contains(out, "writable by group or others") && strings.Contains(out, file),
		"vpoller-worker start exits 1 naming the file and the cause", "exit %d %v: %s", code, err, tail(strings.TrimSpace(out), 200))
	ck.add(len(panicRE.FindAllString(out, -1)) == 0, "no panic", "%d", len(panicRE.FindAllString(out, -1)))
	s.record(&row{Recovery: -1, RSS: "-", Checks: ck})
}

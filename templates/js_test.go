package templates

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The preprocessing scripts run in Zabbix's own JavaScript engine (Duktape)
// through its zabbix_js tool. `make e2e` sets ZABBIX_JS to the 7.0 tool it
// unpacks; without it these tests cannot run and say so.
func zabbixJS(t *testing.T, script, input string) string {
	t.Helper()
	bin := os.Getenv("ZABBIX_JS")
	if bin == "" {
		t.Skip("ZABBIX_JS not set: the e2e harness runs this test with Zabbix's zabbix_js")
	}
	f, err := os.CreateTemp(t.TempDir(), "script-*.js")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(script); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := exec.Command(bin, "-s", f.Name(), "-p", input).CombinedOutput()
	if err != nil {
		t.Fatalf("zabbix_js: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// userMacros replaces user macros as the Zabbix server does before running
// a script.
var userMacros = strings.NewReplacer("{$VSPHERE.HOST}", "vc01.example.com", "{$VPOLLER.INTERVAL}", "10s",
	"{$VPOLLER.LLD.INTERVAL}", "20s", "{$VPOLLER.NAME.SUFFIX}", "")

var zabbixHostName = regexp.MustCompile(`^[0-9A-Za-z._ -]{1,128}$`)

func TestObjectDiscoveryNamesInZabbixEngine(t *testing.T) {
	long := strings.Repeat("x", 200)
	names := []string{"DC0_H0_VM0", "Grüße / web 01", "dup", "dup", "a b", "a_b", long, "日本語", "%$#@!"}
	var rows []map[string]string
	for _, n := range names {
		rows = append(rows, map[string]string{"{#VSPHERE.VM.NAME}": n})
	}
	in, _ := json.Marshal(map[string]any{"data": rows})
	out := zabbixJS(t, userMacros.Replace(objectDiscovery("vm", "{#VSPHERE.VM.NAME}").Parameters[0]), string(in))
	var got struct {
		Data []map[string]string `json:"data"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if len(got.Data) != len(names) {
		t.Fatalf("%d rows out, want %d", len(got.Data), len(names))
	}
	hosts, visible := map[string]bool{}, map[string]bool{}
	for i, r := range got.Data {
		h, v := r["{#VPOLLER.HOST}"], r["{#VPOLLER.NAME}"]
		if !zabbixHostName.MatchString(h) || len(h) > 128 {
			t.Errorf("%q: technical name %q is not a valid Zabbix host name", names[i], h)
		}
		if !strings.HasPrefix(h, "vc01.example.com_vm_") {
			t.Errorf("%q: technical name %q lacks the agent/kind prefix", names[i], h)
		}
		if hosts[h] || visible[v] {
			t.Errorf("%q: duplicate host %q / visible name %q", names[i], h, v)
		}
		hosts[h], visible[v] = true, true
		if len([]rune(v)) > 128 {
			t.Errorf("%q: visible name longer than 128 characters", names[i])
		}
		if r["{#VPOLLER.AGENT}"] != "vc01.example.com" || r["{#VPOLLER.INTERVAL}"] != "10s" || r["{#VPOLLER.LLD.INTERVAL}"] != "20s" {
			t.Errorf("%q: macros passed down wrong: %v", names[i], r)
		}
	}
	// Names that are valid as they are stay readable.
	if h := got.Data[0]["{#VPOLLER.HOST}"]; h != "vc01.example.com_vm_DC0_H0_VM0" {
		t.Errorf("plain name: %q", h)
	}
	if v := got.Data[1]["{#VPOLLER.NAME}"]; v != "Grüße / web 01" {
		t.Errorf("visible name changed: %q", v)
	}
}

func TestSnapshotAgeInZabbixEngine(t *testing.T) {
	ts := time.Now().UTC().Add(-50 * time.Hour)
	in := `[{"createTime":"` + ts.Format("2006-01-02 15:04:05.000000+00:00") + `","id":1,"name":"a"},` +
		`{"createTime":"` + ts.Add(time.Hour).In(time.FixedZone("x", 2*3600)).Format("2006-01-02 15:04:05-07:00") + `","id":2,"name":"b"}]`
	out := zabbixJS(t, snapshotAgeJS, in)
	var age int
	if err := json.Unmarshal([]byte(out), &age); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if age < 50*3600-5 || age > 50*3600+5 {
		t.Errorf("oldest snapshot age %d s, want about %d", age, 50*3600)
	}
	if out := zabbixJS(t, snapshotAgeJS, "[]"); out != "0" {
		t.Errorf("no snapshots: age %q, want 0", out)
	}
}

func TestGuestDiskAndNICInZabbixEngine(t *testing.T) {
	disc := zabbixJS(t, diskDiscoveryJS, `{"data":[{"{#VSPHERE.VM.DISKPATH}":"C:\\"},{"{#VSPHERE.VM.DISKPATH}":"/var"}]}`)
	var d struct {
		Data []map[string]string `json:"data"`
	}
	if err := json.Unmarshal([]byte(disc), &d); err != nil || len(d.Data) != 2 {
		t.Fatalf("disk discovery output %q: %v", disc, err)
	}
	lit := d.Data[0]["{#VPOLLER.DISKPATH.JSON}"]
	master := `[{"name":"vm","guest.disk":[{"diskPath":"/var","capacity":400,"freeSpace":100},{"diskPath":"C:\\","capacity":1000,"freeSpace":250}]}]`
	script := strings.ReplaceAll(diskValue("disks[i].capacity > 0 ? Math.round(10000 * disks[i].freeSpace / disks[i].capacity) / 100 : 0").Parameters[0],
		"{#VPOLLER.DISKPATH.JSON}", lit)
	if out := zabbixJS(t, script, master); out != "25" {
		t.Errorf(`free %% of C:\ = %q, want 25`, out)
	}
	nic := strings.ReplaceAll(nicValue("JSON.stringify(nets[i].ipAddress || [])", "'[]'").Parameters[0], "{#VSPHERE.VM.MACADDRESS}", "00:50:56:aa:bb:cc")
	in := `[{"name":"vm","guest.net":[{"macAddress":"00:50:56:aa:bb:cc","ipAddress":["10.0.0.5","fe80::1"],"connected":true}]}]`
	if out := zabbixJS(t, nic, in); out != `["10.0.0.5","fe80::1"]` {
		t.Errorf("NIC addresses %q", out)
	}
	if out := zabbixJS(t, nic, `[{"name":"vm","guest.net":[]}]`); out != "[]" {
		t.Errorf("missing NIC: %q, want []", out)
	}
}

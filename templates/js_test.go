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
	"{$VPOLLER.LLD.INTERVAL}", "20s", "{$VPOLLER.PERF.INSTANCE.INTERVAL}", "30s", "{$VPOLLER.NAME.SUFFIX}", "", "{$VSPHERE.VM.AGENT.INTERFACE}", "0",
	"{$VPOLLER.AGENT.ADDRESS}", "", "{$VPOLLER.AGENT.PORT}", "10050", "{$VSPHERE.VM.AGENT.PORT}", "10050")

var zabbixHostName = regexp.MustCompile(`^[0-9A-Za-z._ -]{1,128}$`)

// vmSpec is the VM discovery's script parameters, as the vCenter template
// has them.
func vmSpec(t *testing.T) discoverySpec {
	t.Helper()
	for _, k := range objectKinds {
		if k.short == "vm" {
			return discoverySpec{kind: "vm", nameMacro: "{#VSPHERE.VM.NAME}",
				idMacros: []string{"{#VSPHERE.VM.CONFIG.INSTANCEUUID}", "{#VSPHERE.VM.MOREF}"},
				need:     []string{"{#VSPHERE.VM.RUNTIME.POWERSTATE}", "{#VSPHERE.VM.CONFIG.TEMPLATE}"},
				dcMacro:  "{#VSPHERE.VM.DATACENTER}", cluster: "{#VSPHERE.VM.CLUSTER}", guest: true}
		}
	}
	t.Fatal("no vm kind")
	return discoverySpec{}
}

func runDiscoveryJS(t *testing.T, spec discoverySpec, macros *strings.Replacer, rows []map[string]any) []map[string]string {
	t.Helper()
	in, _ := json.Marshal(map[string]any{"data": rows})
	out := zabbixJS(t, macros.Replace(objectDiscovery(spec).Parameters[0]), string(in))
	var got struct {
		Data []map[string]string `json:"data"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if len(got.Data) != len(rows) {
		t.Fatalf("%d rows out, want %d", len(got.Data), len(rows))
	}
	return got.Data
}

func TestObjectDiscoveryNamesInZabbixEngine(t *testing.T) {
	long := strings.Repeat("x", 200)
	names := []string{"DC0_H0_VM0", "Grüße / web 01", "dup", "dup", "a b", "a_b", long, "日本語", "%$#@!", "no uuid"}
	var rows []map[string]any
	for i, n := range names {
		r := map[string]any{"{#VSPHERE.VM.NAME}": n, "{#VSPHERE.VM.MOREF}": "vm-" + string(rune('a'+i)),
			"{#VSPHERE.VM.CONFIG.TEMPLATE}": i == 4, "{#VSPHERE.VM.DATACENTER}": "DC/0", "{#VSPHERE.VM.CLUSTER}": ""}
		if n != "no uuid" {
			r["{#VSPHERE.VM.CONFIG.INSTANCEUUID}"] = "5003aaaa-bbbb-cccc-dddd-00000000000" + string(rune('0'+i))
		}
		rows = append(rows, r)
	}
	rows[6]["{#VSPHERE.VM.CONFIG.INSTANCEUUID}"] = long // an id too long for a host name
	got := runDiscoveryJS(t, vmSpec(t), userMacros, rows)
	hosts, visible := map[string]bool{}, map[string]bool{}
	for i, r := range got {
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
		if r["{#VPOLLER.AGENT}"] != "vc01.example.com" || r["{#VPOLLER.INTERVAL}"] != "10s" || r["{#VPOLLER.LLD.INTERVAL}"] != "20s" ||
			r["{#VPOLLER.PERF.INSTANCE.INTERVAL}"] != "30s" {
			t.Errorf("%q: macros passed down wrong: %v", names[i], r)
		}
		if r["{#VPOLLER.DATACENTER}"] != "DC_0" || r["{#VPOLLER.CLUSTER}"] != "(standalone)" {
			t.Errorf("%q: datacenter/cluster %q/%q", names[i], r["{#VPOLLER.DATACENTER}"], r["{#VPOLLER.CLUSTER}"])
		}
		if r["{#VSPHERE.VM.RUNTIME.POWERSTATE}"] != "" || r["{#VPOLLER.VM.AGENT.INTERFACE}"] != "0" {
			t.Errorf("%q: filter macros %v", names[i], r)
		}
	}
	// Keyed by the instance UUID, named by the current name.
	if h, id := got[0]["{#VPOLLER.HOST}"], got[0]["{#VPOLLER.ID}"]; h != "vc01.example.com_vm_5003aaaa-bbbb-cccc-dddd-000000000000" || id != "5003aaaa-bbbb-cccc-dddd-000000000000" {
		t.Errorf("plain row: host %q id %q", h, id)
	}
	if v := got[1]["{#VPOLLER.NAME}"]; v != "Grüße / web 01" {
		t.Errorf("visible name changed: %q", v)
	}
	if v := got[2]["{#VPOLLER.NAME}"]; v != "dup (5003aaaa-bbbb-cccc-dddd-000000000002)" {
		t.Errorf("duplicate name: %q", v)
	}
	if got[4]["{#VSPHERE.VM.CONFIG.TEMPLATE}"] != "true" || got[5]["{#VSPHERE.VM.CONFIG.TEMPLATE}"] != "false" {
		t.Errorf("booleans not made text: %q %q", got[4]["{#VSPHERE.VM.CONFIG.TEMPLATE}"], got[5]["{#VSPHERE.VM.CONFIG.TEMPLATE}"])
	}
	if h := got[9]["{#VPOLLER.HOST}"]; h != "vc01.example.com_vm_vm-j" {
		t.Errorf("no instance UUID: host %q, want the managed object id", h)
	}

	// A rename changes the visible name only.
	rows[0]["{#VSPHERE.VM.NAME}"] = "renamed"
	again := runDiscoveryJS(t, vmSpec(t), userMacros, rows)
	if again[0]["{#VPOLLER.HOST}"] != got[0]["{#VPOLLER.HOST}"] || again[0]["{#VPOLLER.NAME}"] != "renamed" {
		t.Errorf("rename: host %q -> %q, name %q", got[0]["{#VPOLLER.HOST}"], again[0]["{#VPOLLER.HOST}"], again[0]["{#VPOLLER.NAME}"])
	}

	// The guest agent interface: only with the macro, an address and an IP.
	guest := strings.NewReplacer("{$VSPHERE.HOST}", "vc01.example.com", "{$VPOLLER.INTERVAL}", "10s",
		"{$VPOLLER.LLD.INTERVAL}", "20s", "{$VPOLLER.NAME.SUFFIX}", " (vc01)", "{$VSPHERE.VM.AGENT.INTERFACE}", "1",
		"{$VPOLLER.AGENT.ADDRESS}", "192.0.2.10", "{$VPOLLER.AGENT.PORT}", "10050", "{$VSPHERE.VM.AGENT.PORT}", "10060")
	g := runDiscoveryJS(t, vmSpec(t), guest, []map[string]any{
		{"{#VSPHERE.VM.NAME}": "a", "{#VSPHERE.VM.MOREF}": "vm-1", "{#VSPHERE.VM.GUEST.IPADDRESS}": "192.0.2.20", "{#VSPHERE.VM.CLUSTER}": "C/1"},
		{"{#VSPHERE.VM.NAME}": "b", "{#VSPHERE.VM.MOREF}": "vm-2"},
	})
	if g[0]["{#VPOLLER.VM.AGENT.INTERFACE}"] != "1" || g[1]["{#VPOLLER.VM.AGENT.INTERFACE}"] != "0" ||
		g[0]["{#VPOLLER.AGENT.ADDRESS}"] != "192.0.2.10" || g[0]["{#VPOLLER.VM.AGENT.PORT}"] != "10060" {
		t.Errorf("guest interface: %v", g)
	}
	if g[0]["{#VPOLLER.NAME}"] != "a (vc01)" || g[0]["{#VPOLLER.CLUSTER}"] != "C_1" || g[1]["{#VPOLLER.DATACENTER}"] != "(none)" {
		t.Errorf("suffix/placement: %v", g[0])
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

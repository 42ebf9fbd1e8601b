package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// TestClientCommandLineEveryMethod runs the built vpoller-client binary
// once per method of the catalogue against the chain, with the flags a user
// would type, and checks each reply's status and message. Methods that need
// what the plain simulator lacks (guest disks, VMware Tools, snapshots,
// vSAN) must fail with the original's message, which proves the command
// line reaches them too.
func TestClientCommandLineEveryMethod(t *testing.T) {
	c := startChain(t)
	bin := buildClient(t)
	cli := func(args ...string) *vpoller.Response {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-e", c.frontend, "-V", agentName, "-t", "15000", "-r", "1"}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("vpoller-client %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		resp, err := vpoller.DecodeResponse(bytes.TrimSpace(stdout.Bytes()))
		if err != nil {
			t.Fatalf("vpoller-client %s: %v\n%s", strings.Join(args, " "), err, stdout.String())
		}
		return resp
	}
	first := func(r *vpoller.Response, key string) string {
		t.Helper()
		list, ok := r.Result.([]any)
		if !ok || len(list) == 0 {
			t.Fatalf("no result list: %+v", r)
		}
		v, _ := list[0].(vpoller.Object).Get(key)
		s, _ := v.(string)
		return s
	}
	ds := first(cli("-m", "datastore.discover", "-p", "info.url"), "info.url")
	pool := first(cli("-m", "vm.get", "-n", "DC0_C0_RP0_VM0", "-p", "resourcePool"), "resourcePool")
	if ds == "" || !strings.HasPrefix(pool, "resgroup-") {
		t.Fatalf("datastore url %q, pool id %q", ds, pool)
	}

	const vm, host = "DC0_H0_VM0", "DC0_H0"
	cases := map[string]struct {
		args []string
		msg  string // expected msg; failures start with "!"
	}{
		"about":                       {[]string{"-p", "version"}, "Successfully retrieved properties"},
		"event.get":                   {[]string{"-k", "0", "-s", "5"}, "Successfully retrieved events"},
		"event.latest":                {nil, "Successfully retrieved event"},
		"session.get":                 {nil, "Successfully retrieved sessions"},
		"perf.metric.info":            {nil, "Successfully retrieved performance metrics info"},
		"perf.interval.info":          {nil, "Successfully retrieved performance historical intervals"},
		"net.discover":                {nil, "Successfully discovered objects"},
		"net.get":                     {[]string{"-n", "VM Network", "-p", "summary.accessible"}, "Successfully retrieved object properties"},
		"net.host.get":                {[]string{"-n", "VM Network"}, "Successfully discovered objects"},
		"net.vm.get":                  {[]string{"-n", "VM Network"}, "Successfully discovered objects"},
		"datacenter.discover":         {nil, "Successfully discovered objects"},
		"datacenter.get":              {[]string{"-n", "DC0", "-p", "overallStatus"}, "Successfully retrieved object properties"},
		"datacenter.alarm.get":        {[]string{"-n", "DC0"}, "Successfully retrieved alarms"},
		"datacenter.perf.metric.info": {[]string{"-n", "DC0"}, "Successfully retrieved performance metrics"},
		"datacenter.perf.metric.get":  {[]string{"-n", "DC0", "-c", "cpu.usage.percent.average"}, "!No historical performance interval provided for entity DC0"},
		"cluster.discover":            {nil, "Successfully discovered objects"},
		"cluster.get":                 {[]string{"-n", "DC0_C0", "-p", "overallStatus"}, "Successfully retrieved object properties"},
		"cluster.alarm.get":           {[]string{"-n", "DC0_C0"}, "Successfully retrieved alarms"},
		"cluster.perf.metric.info":    {[]string{"-n", "DC0_C0"}, "Successfully retrieved performance metrics"},
		"cluster.perf.metric.get":     {[]string{"-n", "DC0_C0", "-c", "cpu.usage.percent.average", "-T", "Past Day"}, "Successfully retrieved performance metrics"},
		"resource.pool.discover":      {nil, "Successfully discovered objects"},
		"resource.pool.get":           {[]string{"-n", pool, "-p", "overallStatus"}, "Successfully retrieved object properties"},
		"resource.pool.vm.get":        {[]string{"-n", pool}, "Successfully discovered objects"},
		"host.discover":               {nil, "Successfully discovered objects"},
		"host.get":                    {[]string{"-n", host, "-p", "runtime.powerState"}, "Successfully retrieved object properties"},
		"host.alarm.get":              {[]string{"-n", host}, "Successfully retrieved alarms"},
		"host.perf.metric.info":       {[]string{"-n", host}, "Successfully retrieved performance metrics"},
		"host.perf.metric.get":        {[]string{"-n", host, "-c", "cpu.usage.percent.average", "-s", "2"}, "Successfully retrieved performance metrics"},
		"host.cluster.get":            {[]string{"-n", "DC0_C0_H0"}, "Successfully retrieved properties"},
		"host.vm.get":                 {[]string{"-n", host}, "Successfully discovered objects"},
		"host.datastore.get":          {[]string{"-n", host}, "Successfully discovered objects"},
		"host.net.get":                {[]string{"-n", host}, "Successfully discovered objects"},
		"host.sensor.discover":        {[]string{"-n", host}, "Successfully discovered objects"},
		"host.sensor.get":             {[]string{"-n", host, "-k", "VMware Rollup Health State", "-p", "value"}, "Successfully retrieved properties"},
		"host.health.get":             {[]string{"-n", host}, "Successfully retrieved properties"},
		"host.pnic.discover":          {[]string{"-n", host}, "Successfully discovered objects"},
		"host.datastore.discover":     {[]string{"-n", host}, "Successfully discovered objects"},
		"host.lun.discover":           {[]string{"-n", host}, "Successfully discovered objects"},
		"vm.discover":                 {[]string{"-p", "runtime.powerState"}, "Successfully discovered objects"},
		"vm.get":                      {[]string{"-n", vm, "-p", "runtime.powerState,config.hardware.numCPU"}, "Successfully retrieved object properties"},
		"vm.alarm.get":                {[]string{"-n", vm}, "Successfully retrieved alarms"},
		"vm.perf.metric.info":         {[]string{"-n", vm}, "Successfully retrieved performance metrics"},
		"vm.perf.metric.get":          {[]string{"-n", vm, "-c", "cpu.usage.percent.average"}, "Successfully retrieved performance metrics"},
		"vm.host.get":                 {[]string{"-n", vm}, "Successfully retrieved object properties"},
		"vm.datastore.get":            {[]string{"-n", vm}, "Successfully discovered objects"},
		"vm.net.get":                  {[]string{"-n", vm}, "Successfully discovered objects"},
		"vm.disk.discover":            {[]string{"-n", vm}, "Successfully discovered objects"},
		"vm.vdisk.discover":           {[]string{"-n", vm}, "Successfully discovered objects"},
		"vm.vnic.discover":            {[]string{"-n", vm}, "Successfully discovered objects"},
		"vm.disk.get":                 {[]string{"-n", vm, "-k", "/", "-p", "freeSpace"}, "!Unable to find guest disk /"},
		"vm.guest.net.get":            {[]string{"-n", vm}, "Successfully retrieved properties"},
		"vm.process.get":              {[]string{"-n", vm, "-U", "root", "-P", "secret"}, "!" + vm + " is not running VMware Tools"},
		"vm.snapshot.get":             {[]string{"-n", vm}, "!No snapshots found for: " + vm},
		"vm.cpu.usage.percent":        {[]string{"-n", vm}, "Successfully retrieved properties"},
		"vm.cpu.usage.pct":            {[]string{"-n", vm}, "Successfully retrieved properties"},
		"datastore.discover":          {[]string{"-p", "info.url"}, "Successfully discovered objects"},
		"datastore.get":               {[]string{"-n", ds, "-p", "summary.capacity"}, "Successfully retrieved object properties"},
		"datastore.alarm.get":         {[]string{"-n", ds}, "Successfully retrieved alarms"},
		"datastore.host.get":          {[]string{"-n", ds}, "Successfully discovered objects"},
		"datastore.vm.get":            {[]string{"-n", ds}, "Successfully discovered objects"},
		"datastore.perf.metric.info":  {[]string{"-n", ds}, "Successfully retrieved performance metrics"},
		"datastore.perf.metric.get":   {[]string{"-n", ds, "-c", "disk.used.kiloBytes.latest", "-T", "Past Day"}, "Successfully retrieved performance metrics"},
		"datastore.perf.hosts.get":    {[]string{"-n", ds, "-c", "datastore.numberReadAveraged.number.average"}, "Successfully retrieved performance metrics"},
		"vsan.health.get":             {[]string{"-n", host}, "!Cannot query vSAN status of host " + host},

		// Datastore clusters and distributed switches. The plain
		// simulator has no datastore cluster: lookups of one fail.
		"datastore.cluster.discover":      {nil, "Successfully discovered objects"},
		"datastore.cluster.get":           {[]string{"-n", "DC0_POD0", "-p", "summary.capacity"}, "!Cannot find object DC0_POD0"},
		"datastore.cluster.datastore.get": {[]string{"-n", "DC0_POD0"}, "!Cannot find object DC0_POD0"},
		"dvswitch.discover":               {nil, "Successfully discovered objects"},
		"dvswitch.get":                    {[]string{"-n", "DVS0", "-p", "uuid"}, "Successfully retrieved object properties"},
		"dvswitch.port.get":               {[]string{"-n", "DVS0", "-k", "DC0_DVPG0"}, "Successfully retrieved distributed switch ports"},

		// The plain simulator has no tags and no custom fields: empty
		// answers, through the agent's vAPI session over pinned TLS.
		"tag.discover":       {nil, "Successfully discovered tags"},
		"vm.tag.get":         {[]string{"-n", vm}, "Successfully retrieved tags"},
		"host.tag.get":       {[]string{"-n", host}, "Successfully retrieved tags"},
		"datastore.tag.get":  {[]string{"-n", ds}, "Successfully retrieved tags"},
		"cluster.tag.get":    {[]string{"-n", "DC0_C0"}, "Successfully retrieved tags"},
		"vm.attribute.get":   {[]string{"-n", vm}, "Successfully retrieved custom attributes"},
		"host.attribute.get": {[]string{"-n", host, "-p", "Rack"}, "!Cannot find custom attribute Rack"},

		// license, certificate, appliance and vSAN methods: the plain
		// simulator has its evaluation license and its hosts' and
		// server's certificates, no appliance API and no vSAN: clear errors.
		"license.discover":           {nil, "Successfully retrieved licenses"},
		"host.license.get":           {[]string{"-n", host}, "Successfully retrieved licenses"},
		"host.certificate.get":       {[]string{"-n", host}, "Successfully retrieved certificate"},
		"vcenter.certificate.get":    {nil, "Successfully retrieved certificate"},
		"appliance.health.get":       {nil, "!Cannot retrieve appliance health: the vCenter appliance health API is not available"},
		"appliance.service.discover": {nil, "!Cannot retrieve appliance health: the vCenter appliance health API is not available"},
		"vsan.cluster.discover":      {nil, "Successfully discovered objects"},
		"vsan.cluster.get":           {[]string{"-n", "DC0_C0"}, "!vSAN is not enabled on cluster DC0_C0"},
		// storage path, service and backup methods (values below).
		"host.path.discover":  {[]string{"-n", host}, "Successfully discovered objects"},
		"host.service.get":    {[]string{"-n", host, "-k", "TSM-SSH"}, "Successfully retrieved properties"},
		"host.ntp.get":        {[]string{"-n", host}, "Successfully retrieved properties"},
		"host.time.get":       {[]string{"-n", host}, "!Cannot query the time of host " + host + ": "},
		"vm.backup.get":       {[]string{"-n", vm, "-k", "Last Backup"}, "Successfully retrieved backup information"},
		"datastore.space.get": {[]string{"-n", ds}, "Successfully retrieved properties"},
	}
	for _, m := range vpoller.Methods() {
		tc, ok := cases[m]
		if !ok {
			t.Errorf("method %s has no command-line case", m)
			continue
		}
		t.Run(m, func(t *testing.T) {
			r := cli(append([]string{"-m", m}, tc.args...)...)
			wantFail := strings.HasPrefix(tc.msg, "!")
			want := strings.TrimPrefix(tc.msg, "!")
			if r.Failed() != wantFail || !strings.HasPrefix(r.Msg, want) {
				t.Fatalf("got success=%d msg %q, want failure=%v msg %q", r.Success, r.Msg, wantFail, want)
			}
			if !wantFail && r.Result == nil {
				t.Fatalf("no result: %+v", r)
			}
		})
	}

	// storage path, service and backup methods: the values of the
	// simulator's stock host, VM and datastore.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-m", "host.path.discover", "-n", host}, `[{"lun": "mpx.vmhba0:C0:T0:L0", "displayName": "Local VMware, Disk (mpx.vmhba0:C0:T0:L0)", "policy": "VMW_PSP_FIXED", "paths": 1, "active": 1, "standby": 0, "disabled": 0, "dead": 0, "unknown": 0, "states": "vmhba0:C0:T0:L0=active"}, ` +
			`{"lun": "mpx.vmhba1:C0:T0:L0", "displayName": "Local NECVMWar CD-ROM (mpx.vmhba1:C0:T0:L0)", "policy": "VMW_PSP_FIXED", "paths": 1, "active": 1, "standby": 0, "disabled": 0, "dead": 0, "unknown": 0, "states": "vmhba1:C0:T0:L0=active"}]`},
		{[]string{"-m", "host.service.get", "-n", host, "-k", "TSM-SSH"}, `[{"key": "TSM-SSH", "label": "SSH", "running": false, "policy": "off", "required": false}]`},
		{[]string{"-m", "host.ntp.get", "-n", host}, `[{"name": "DC0_H0", "ntpConfigured": false, "ntpServers": "", "ntpRunning": false, "ntpPolicy": "off", "timeZone": ""}]`},
		{[]string{"-m", "vm.backup.get", "-n", vm, "-k", "Last Backup"}, `[{"name": "DC0_H0_VM0", "changeTrackingEnabled": false, "snapshots": 0, "snapshotSize": 0, "backupAttribute": "Last Backup", "backupValue": "", "lastBackup": 0, "backupAge": -1}]`},
	} {
		r := cli(tc.args...)
		b, err := vpoller.Marshal(r.Result, vpoller.Python)
		if err != nil || string(b) != tc.want {
			t.Errorf("vpoller-client %s:\n got %s (%v)\nwant %s", strings.Join(tc.args, " "), b, err, tc.want)
		}
	}
	r := cli("-m", "datastore.space.get", "-n", ds)
	if o, _ := r.Result.([]any)[0].(vpoller.Object); o == nil || strings.Join(o.Keys(), ",") != "name,capacity,freeSpace,uncommitted,used,provisioned,usedPct,provisionedPct" {
		t.Errorf("datastore.space.get: %+v", r.Result)
	} else if c, _ := o.Get("capacity"); c == nil || c.(json.Number).String() == "0" || strings.HasPrefix(c.(json.Number).String(), "-") {
		t.Errorf("datastore.space.get capacity %v", c)
	}
}

// TestCModuleRequests sends the exact request shape of the original C
// Zabbix module (every value a string, "(null)" for missing parameters,
// max-sample "1", helper czabbix) through the chain: an item method gets
// the bare value and an LLD method the discovery JSON, each NUL-terminated
// as the module expects.
func TestCModuleRequests(t *testing.T) {
	c := startChain(t)
	cl := c.client(t)
	send := func(method, name, prop string) string {
		t.Helper()
		req := `{"method": "` + method + `", "hostname": "` + agentName + `", "name": "` + name + `", "properties": ["` + prop +
			`"], "key": "(null)", "username": "(null)", "password": "(null)", "counter-name": "(null)", "instance": "(null)", ` +
			`"perf-interval": "(null)", "max-sample": "1", "helper": "vpoller.helpers.czabbix"}`
		raw, err := cl.Do(context.Background(), []byte(req))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	if got := send("vm.get", "DC0_H0_VM0", "runtime.powerState"); got != "\"poweredOn\"\x00" {
		t.Errorf("item: %q", got)
	}
	if got := send("host.get", "DC0_H0", "summary.hardware.numCpuCores"); got != "2\x00" {
		t.Errorf("item number: %q", got)
	}
	want := `{"data": [{"{#VSPHERE.HOST.NAME}": "DC0_H0", "{#VSPHERE.HOST.RUNTIME.CONNECTIONSTATE}": "connected"}, ` +
		`{"{#VSPHERE.HOST.NAME}": "DC0_C0_H0", "{#VSPHERE.HOST.RUNTIME.CONNECTIONSTATE}": "connected"}, ` +
		`{"{#VSPHERE.HOST.NAME}": "DC0_C0_H1", "{#VSPHERE.HOST.RUNTIME.CONNECTIONSTATE}": "connected"}, ` +
		`{"{#VSPHERE.HOST.NAME}": "DC0_C0_H2", "{#VSPHERE.HOST.RUNTIME.CONNECTIONSTATE}": "connected"}]}` + "\x00"
	if got := send("host.discover", "(null)", "runtime.connectionState"); got != want {
		t.Errorf("LLD:\n got %q\nwant %q", got, want)
	}
	if got := send("vm.get", "no-such-vm", "runtime.powerState"); got != "Cannot find object no-such-vm\x00" {
		t.Errorf("error: %q", got)
	}
}

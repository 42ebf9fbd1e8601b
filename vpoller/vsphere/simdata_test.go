package vsphere

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vsan"
	vsanmethods "github.com/vmware/govmomi/vsan/methods"
	vsantypes "github.com/vmware/govmomi/vsan/types"
)

// Server-side data for the license, certificate, appliance and vSAN
// methods (test setup only). What govmomi's simulator models is set on
// its objects (licenses, assignments, a host's certificate, a cluster's
// vSAN flag); what it does not serve at all gets a test endpoint on the
// same simulator server, built from VMware's published API shapes:
//
//   - the appliance management API (vSphere Automation API reference,
//     "appliance" package: GET /api/appliance/health/{system,load,mem,
//     storage,database,swap} answer a bare health level string; GET
//     /api/vcenter/services a map of service id to {name_key,
//     description_key, startup_type, health, health_messages, state};
//     GET /api/appliance/recovery/backup/job/details a map of job id to
//     {location, type, status, start_time, end_time, ...}), behind the
//     vAPI simulator's session check;
//   - the vSAN health service (/vsanHealth, urn:vsan): the three calls the
//     methods make, answered with govmomi's vsan types.

// The license data set on the simulator by simLicensesAndHealth.
const (
	simLicenseKey   = "AB12C-3DE45-F6789-GH0JK-4F2A1"
	simLicenseMask  = "*****-*****-*****-*****-4F2A1"
	simLicenseName  = "VMware vSphere 8 Enterprise Plus"
	simLicenseEdit  = "esx.enterprisePlus.cpuPackage"
	simLicenseHost  = "DC0_H0"
	simCertHost     = "DC0_H0"
	simVsanCluster  = "DC0_C0"
	simVsanTotal    = int64(10 << 40)
	simVsanFree     = int64(4 << 40)
	simResyncBytes  = int64(123456789)
	simResyncObject = int64(7)
)

// simLicenseExpiry is the simulated license's expirationDate.
var simLicenseExpiry = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

// simCertNotAfter is the expiry of the certificate simLicensesAndHealth gives
// simCertHost: 10 days and an hour from the test's start.
var simCertNotAfter = time.Now().Add(10*24*time.Hour + time.Hour).Truncate(time.Second)

// testCert makes a self-signed certificate valid until notAfter.
func testCert(t testing.TB, cn string, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(18), Subject: pkix.Name{CommonName: cn, Organization: []string{"vPoller test"}},
		NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// simLicensesAndHealth returns the setup giving the simulator the data above.
func simLicensesAndHealth(t testing.TB) func(*simulator.Model) {
	cert := testCert(t, simCertHost+".test", simCertNotAfter)
	return func(m *simulator.Model) {
		r := m.Map()
		// Licenses: a time-limited, over-used Enterprise Plus license
		// assigned to simLicenseHost; the others keep the evaluation one.
		ent := types.LicenseManagerLicenseInfo{LicenseKey: simLicenseKey, EditionKey: simLicenseEdit, Name: simLicenseName,
			Total: 4, Used: 6, CostUnit: "cpuPackage",
			Properties: []types.KeyAnyValue{{Key: "ProductName", Value: "VMware ESX Server"}, {Key: "expirationDate", Value: simLicenseExpiry}}}
		lm := r.Get(*m.ServiceContent.LicenseManager).(*simulator.LicenseManager)
		lm.Licenses = append(lm.Licenses, ent)
		if lm.LicenseAssignmentManager != nil {
			lam := r.Get(*lm.LicenseAssignmentManager).(*simulator.LicenseAssignmentManager)
			for _, e := range r.All("HostSystem") {
				if e.Entity().Name != simLicenseHost {
					continue
				}
				for i, as := range lam.QueryAssignedLicensesResponse.Returnval {
					if as.EntityId == e.Reference().Value {
						lam.QueryAssignedLicensesResponse.Returnval[i].AssignedLicense = ent
					}
				}
			}
		}
		// simCertHost's certificate.
		for _, e := range r.All("HostSystem") {
			if h := e.(*simulator.HostSystem); h.Name == simCertHost && h.Config != nil {
				h.Config.Certificate = cert
			}
		}
		if !r.IsVPX() {
			return
		}
		// vSAN on simVsanCluster, and the health service answering for it.
		for _, e := range r.All("ClusterComputeResource") {
			c := e.(*simulator.ClusterComputeResource)
			if c.Name != simVsanCluster {
				continue
			}
			ci := c.ConfigurationEx.(*types.ClusterConfigInfoEx)
			ci.VsanConfigInfo = &types.VsanClusterConfigInfo{Enabled: types.NewBool(true)}
		}
		vr := simulator.NewRegistry()
		vr.Namespace, vr.Path = vsan.Namespace, vsan.Path
		vr.Put(&simVsanHealth{ManagedObjectReference: vsanHealthSystem})
		vr.Put(&simVsanSpace{ManagedObjectReference: vsanSpaceSystem})
		vr.Put(&simVsanObjects{ManagedObjectReference: vsanObjectSystem})
		m.Service.RegisterSDK(vr)
		// The appliance management API.
		simApplianceAPI(m, map[string]string{"system": "orange", "load": "green", "mem": "yellow", "storage": "green", "database": "green", "swap": "red"})
	}
}

// simApplianceAPI serves the appliance health parts in health (a part
// left out answers 404, as on appliance versions without it), four vMon
// services and two backup jobs.
func simApplianceAPI(m *simulator.Model, health map[string]string) {
	for part, level := range health {
		m.Service.HandleFunc("/api/appliance/health/"+part, func(w http.ResponseWriter, _ *http.Request) {
			_ = json.NewEncoder(w).Encode(level)
		})
	}
	m.Service.HandleFunc("/api/vcenter/services", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"vpxd":         map[string]any{"name_key": "cis.vpxd.ServiceName", "description_key": "cis.vpxd.ServiceDescription", "startup_type": "AUTOMATIC", "health": "HEALTHY", "health_messages": []any{}, "state": "STARTED"},
			"vsphere-ui":   map[string]any{"name_key": "cis.vsphere-ui.ServiceName", "description_key": "cis.vsphere-ui.ServiceDescription", "startup_type": "AUTOMATIC", "health_messages": []any{}, "state": "STOPPED"},
			"wcp":          map[string]any{"name_key": "cis.wcp.ServiceName", "description_key": "cis.wcp.ServiceDescription", "startup_type": "AUTOMATIC", "health": "HEALTHY_WITH_WARNINGS", "health_messages": []any{}, "state": "STARTED"},
			"imagebuilder": map[string]any{"name_key": "cis.imagebuilder.ServiceName", "description_key": "cis.imagebuilder.ServiceDescription", "startup_type": "MANUAL", "health_messages": []any{}, "state": "STOPPED"},
		})
	})
	m.Service.HandleFunc("/api/appliance/recovery/backup/job/details", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"20260101-020000-21560795": map[string]any{"location": "sftp://backup.test/vc", "type": "SCHEDULED", "status": "SUCCEEDED",
				"start_time": "2026-01-01T02:00:00.000Z", "end_time": "2026-01-01T02:14:00.000Z", "messages": []any{}, "cancelable": false},
			"20260102-020000-21560795": map[string]any{"location": "sftp://backup.test/vc", "type": "SCHEDULED", "status": "FAILED",
				"start_time": "2026-01-02T02:00:00.000Z", "end_time": "2026-01-02T02:03:00.000Z", "messages": []any{}, "cancelable": false},
		})
	})
}

// The vSAN health service's objects (VsanVcClusterHealthSystem,
// VsanSpaceReportSystem, VsanObjectSystem), answering for simVsanCluster
// with fixed figures.
type simVsanHealth struct{ types.ManagedObjectReference }
type simVsanSpace struct{ types.ManagedObjectReference }
type simVsanObjects struct{ types.ManagedObjectReference }

func (*simVsanHealth) VsanQueryVcClusterHealthSummary(_ *simulator.Context, _ *vsantypes.VsanQueryVcClusterHealthSummary) soap.HasFault {
	return &vsanmethods.VsanQueryVcClusterHealthSummaryBody{Res: &vsantypes.VsanQueryVcClusterHealthSummaryResponse{
		Returnval: vsantypes.VsanClusterHealthSummary{OverallHealth: "yellow", OverallHealthDescription: "Cluster health has warnings"}}}
}

func (*simVsanSpace) VsanQuerySpaceUsage(_ *simulator.Context, _ *vsantypes.VsanQuerySpaceUsage) soap.HasFault {
	return &vsanmethods.VsanQuerySpaceUsageBody{Res: &vsantypes.VsanQuerySpaceUsageResponse{
		Returnval: vsantypes.VsanSpaceUsage{TotalCapacityB: simVsanTotal, FreeCapacityB: simVsanFree}}}
}

func (*simVsanObjects) QuerySyncingVsanObjectsSummary(_ *simulator.Context, _ *vsantypes.QuerySyncingVsanObjectsSummary) soap.HasFault {
	return &vsanmethods.QuerySyncingVsanObjectsSummaryBody{Res: &vsantypes.QuerySyncingVsanObjectsSummaryResponse{
		Returnval: vsantypes.VsanHostVsanObjectSyncQueryResult{TotalBytesToSync: simResyncBytes, TotalObjectsToSync: simResyncObject, TotalRecoveryETA: 600}}}
}

package vsphere

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Licenses (ours): the vCenter's license inventory (LicenseManager's
// licenses property) and which license each host is assigned
// (LicenseAssignmentManager.QueryAssignedLicenses). Both are read into one
// snapshot per agent, reloaded when a request finds it older than
// licenseTTL: 2 SOAP calls per load on a vCenter (1 on an ESXi host, which
// has no assignment manager), whatever the number of licenses, hosts and
// items asking. License keys never leave the worker whole: every reply
// masks them (maskKey).

const (
	// licenseTTL is how long a license snapshot serves: usage and
	// assignments change when hosts are added or relicensed, expiry is
	// counted in days.
	licenseTTL = 5 * time.Minute

	msgLicenses = "Successfully retrieved licenses"
)

// licenseInfo is one license as the methods report it.
type licenseInfo struct {
	key, name, edition, costUnit, product string
	total, used                           int64
	expires                               time.Time // zero: no expiry
}

// licenseSnapshot is one load of an agent's licenses and assignments.
type licenseSnapshot struct {
	licenses []licenseInfo          // sorted by masked key
	byEntity map[string]licenseInfo // assignment by entity id (host moref value)
	vcenter  bool                   // the assignments are known (a vCenter)
}

// maskKey hides a license key but its last 5 characters, keeping the
// dashes: "*****-*****-*****-*****-4F2A1", enough to tell licenses apart
// in Zabbix without handing the key to whoever reads the monitoring.
func maskKey(key string) string {
	const keep = 5
	r := []rune(key)
	for i := range max(len(r)-keep, 0) {
		if r[i] != '-' {
			r[i] = '*'
		}
	}
	return string(r)
}

// newLicenseInfo reads a LicenseManagerLicenseInfo.
func newLicenseInfo(li types.LicenseManagerLicenseInfo) licenseInfo {
	out := licenseInfo{key: maskKey(li.LicenseKey), name: li.Name, edition: li.EditionKey,
		costUnit: li.CostUnit, total: int64(li.Total), used: int64(li.Used)}
	for _, p := range li.Properties {
		switch p.Key {
		case "expirationDate":
			if t, ok := p.Value.(time.Time); ok {
				out.expires = t
			}
		case "ProductName":
			out.product, _ = p.Value.(string)
		}
	}
	return out
}

// licenses returns the agent's license snapshot, loading it when due.
func (a *Agent) licenses(ctx context.Context) (*licenseSnapshot, error) {
	return a.data.licenses.Get(ctx)
}

// loadLicenses reads the licenses (1 call) and, on a vCenter, every
// assignment (1 call).
func loadLicenses(ctx context.Context, a *Agent) (*licenseSnapshot, error) {
	vc, err := a.Client(ctx)
	if err != nil {
		return nil, err
	}
	sc := vc.ServiceContent
	if sc.LicenseManager == nil {
		return nil, errors.New("the endpoint has no license manager")
	}
	snap := &licenseSnapshot{byEntity: map[string]licenseInfo{}}
	var lm mo.LicenseManager
	if err := property.DefaultCollector(vc).RetrieveOne(ctx, *sc.LicenseManager, []string{"licenses", "licenseAssignmentManager"}, &lm); err != nil {
		return nil, fmt.Errorf("read the licenses: %w", err)
	}
	for _, li := range lm.Licenses {
		snap.licenses = append(snap.licenses, newLicenseInfo(li))
	}
	slices.SortFunc(snap.licenses, func(x, y licenseInfo) int { return cmp.Compare(x.key, y.key) })
	if lm.LicenseAssignmentManager != nil && vc.IsVC() {
		res, err := methods.QueryAssignedLicenses(ctx, vc, &types.QueryAssignedLicenses{This: *lm.LicenseAssignmentManager})
		if err != nil {
			return nil, fmt.Errorf("read the license assignments: %w", err)
		}
		snap.vcenter = true
		for _, as := range res.Returnval {
			snap.byEntity[as.EntityId] = newLicenseInfo(as.AssignedLicense)
		}
	}
	return snap, nil
}

// licenseObject is a license's reply fields; expirationDate is Unix
// seconds, 0 for a license that does not expire.
func licenseObject(li licenseInfo) vpoller.Object {
	var exp int64
	if !li.expires.IsZero() {
		exp = li.expires.Unix()
	}
	return vpoller.Object{
		{Key: "key", Value: li.key},
		{Key: "name", Value: li.name},
		{Key: "editionKey", Value: li.edition},
		{Key: "productName", Value: li.product},
		{Key: "costUnit", Value: li.costUnit},
		{Key: "total", Value: li.total},
		{Key: "used", Value: li.used},
		{Key: "expirationDate", Value: exp},
	}
}

// failLicenses is fail for the license methods: what is not a lookup or
// connection failure reads "Cannot retrieve licenses: <error>".
func failLicenses(req *vpoller.Request, err error) *vpoller.Response {
	var le *LookupError
	var ce *ConnectError
	if errors.As(err, &le) || errors.As(err, &ce) {
		return fail(req, err)
	}
	return &vpoller.Response{Success: 1, Msg: "Cannot retrieve licenses: " + err.Error(), Cause: err}
}

// licenseDiscover (license.discover) lists the vCenter's licenses:
// [{"key" (masked), "name", "editionKey", "productName", "costUnit",
// "total", "used", "expirationDate"}] sorted by masked key. Cost: none
// while the snapshot serves.
func licenseDiscover(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	snap, err := a.licenses(ctx)
	if err != nil {
		return failLicenses(req, err)
	}
	out := make([]any, 0, len(snap.licenses))
	for _, li := range snap.licenses {
		if strings.Trim(li.key, "*-0") == "" && li.edition == "" {
			continue // an empty slot (vCenter lists none, ESXi sometimes one)
		}
		out = append(out, licenseObject(li))
	}
	return vpoller.OK(msgLicenses, out)
}

// hostLicenseGet (host.license.get) is the license assigned to a host:
// [{"name": host, "key" (masked), "licenseName", "editionKey",
// "expirationDate"}]. On a standalone ESXi host, the host's own license.
func hostLicenseGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	ref, err := a.store.Lookup(ctx, objects.Host, req.Name)
	if err != nil {
		return fail(req, err)
	}
	pv, err := a.store.Get(ctx, ref, req.Name, []string{pathName})
	if err != nil {
		return fail(req, err)
	}
	snap, err := a.licenses(ctx)
	if err != nil {
		return failLicenses(req, err)
	}
	li, ok := snap.byEntity[ref.Value]
	if !snap.vcenter && len(snap.licenses) > 0 {
		li, ok = snap.licenses[0], true
	}
	if !ok {
		return vpoller.Fail(fmt.Sprintf("Host %s has no license assigned", req.Name))
	}
	o := licenseObject(li)
	return vpoller.OK(msgLicenses, []any{vpoller.Object{
		{Key: pathName, Value: toValue(pv[pathName])},
		{Key: "key", Value: li.key},
		{Key: "licenseName", Value: li.name},
		{Key: "editionKey", Value: li.edition},
		o[len(o)-1], // expirationDate
	}})
}

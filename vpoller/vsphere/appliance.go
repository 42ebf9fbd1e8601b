package vsphere

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/vmware/govmomi/vapi/rest"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// vCenter Server Appliance health (ours), from the appliance management
// API of the agent's vAPI session (session.REST, /api):
//
//   - /api/appliance/health/{system,load,mem,storage,database,swap}: one
//     health level each (green, yellow, orange, red, gray);
//   - /api/vcenter/services: the vMon services (state, health, startup type);
//   - /api/appliance/recovery/backup/job/details: the backup jobs.
//
// They are read into one snapshot per agent, reloaded when a request
// finds it older than applianceTTL: 8 REST calls per load whatever the
// number of items asking. An endpoint without the appliance API (an ESXi
// host, a Windows vCenter, an appliance older than 7.0) answers "not
// available" (errApplianceNA); a vCenter with the health API but without
// backup jobs reports backupStatus "NONE".

const (
	applianceTTL = 60 * time.Second

	msgAppliance = "Successfully retrieved appliance health"
)

// applianceHealthParts are the health endpoints, in reply order.
var applianceHealthParts = []string{"system", "load", "mem", "storage", "database", "swap"}

// errApplianceNA: the endpoint has no appliance management API.
var errApplianceNA = errors.New("the vCenter appliance health API is not available on this endpoint (ESXi, Windows vCenter or vCenter before 7.0)")

// applianceService is one vMon service as /api/vcenter/services gives it.
type applianceService struct {
	ID          string `json:"-"`
	NameKey     string `json:"name_key"`
	StartupType string `json:"startup_type"`
	Health      string `json:"health"`
	State       string `json:"state"`
}

// backupJob is the part of a backup job's details the methods report.
type backupJob struct {
	Status    string  `json:"status"`
	Type      string  `json:"type"`
	StartTime apiTime `json:"start_time"`
	EndTime   apiTime `json:"end_time"`
}

// apiTime is a vAPI date-time ("2026-01-02T02:03:00.000Z"); one it cannot
// read is the zero time rather than a failed snapshot.
type apiTime struct{ time.Time }

func (t *apiTime) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) != nil {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000", "2006-01-02T15:04:05"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v
			return nil
		}
	}
	return nil
}

// applianceSnapshot is one load of an agent's appliance health.
type applianceSnapshot struct {
	health   map[string]string
	services []applianceService // sorted by id
	backup   *backupJob         // the newest job, nil without one
}

// appliance returns the agent's appliance snapshot, loading it when due.
func (a *Agent) appliance(ctx context.Context) (*applianceSnapshot, error) {
	vc, err := a.Client(ctx)
	if err != nil {
		return nil, err
	}
	if !vc.IsVC() {
		return nil, errApplianceNA
	}
	return a.data.appliance.Get(ctx)
}

func loadAppliance(ctx context.Context, a *Agent) (*applianceSnapshot, error) {
	var snap *applianceSnapshot
	err := a.sess.REST(ctx, func(ctx context.Context, rc *rest.Client) error {
		s := &applianceSnapshot{health: map[string]string{}}
		get := func(path string, out any) error {
			return rc.Do(ctx, rc.Resource(path).Request(http.MethodGet), out)
		}
		for _, part := range applianceHealthParts {
			var level string
			switch err := get("/api/appliance/health/"+part, &level); {
			case rest.IsStatusError(err, http.StatusNotFound) && part == "system":
				return errApplianceNA
			case rest.IsStatusError(err, http.StatusNotFound):
				level = "gray" // a part this appliance version does not report: unknown
			case err != nil:
				return fmt.Errorf("read appliance health %s: %w", part, err)
			}
			s.health[part] = level
		}
		var services map[string]applianceService
		if err := get("/api/vcenter/services", &services); err != nil {
			return fmt.Errorf("read the appliance services: %w", err)
		}
		for id, sv := range services {
			sv.ID = id
			s.services = append(s.services, sv)
		}
		slices.SortFunc(s.services, func(x, y applianceService) int { return cmp.Compare(x.ID, y.ID) })
		var jobs map[string]backupJob
		switch err := get("/api/appliance/recovery/backup/job/details", &jobs); {
		case rest.IsStatusError(err, http.StatusNotFound):
		case err != nil:
			return fmt.Errorf("read the backup jobs: %w", err)
		}
		for _, j := range jobs {
			if s.backup == nil || j.StartTime.After(s.backup.StartTime.Time) {
				s.backup = &j
			}
		}
		snap = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	return snap, nil
}

// failAppliance is fail for the appliance methods.
func failAppliance(req *vpoller.Request, err error) *vpoller.Response {
	var ce *ConnectError
	if errors.As(err, &ce) {
		return fail(req, err)
	}
	return &vpoller.Response{Success: 1, Msg: "Cannot retrieve appliance health: " + err.Error(), Cause: err}
}

// applianceHealthGet (appliance.health.get): [{"system", "load", "mem",
// "storage", "database", "swap", "services", "servicesStopped",
// "servicesUnhealthy", "backupStatus", "backupType", "backupTime"}]:
// the health levels, the number of vMon services, of automatic ones not
// started, and of started ones not HEALTHY; the newest backup job's
// status (SUCCEEDED, FAILED, RUNNING, ... or NONE), type and end (its
// start while it runs) as Unix seconds, 0 without a job.
func applianceHealthGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	s, err := a.appliance(ctx)
	if err != nil {
		return failAppliance(req, err)
	}
	o := make(vpoller.Object, 0, 12)
	for _, part := range applianceHealthParts {
		o = append(o, vpoller.Field{Key: part, Value: s.health[part]})
	}
	var stopped, unhealthy int64
	for _, sv := range s.services {
		if sv.StartupType == "AUTOMATIC" && sv.State != "STARTED" {
			stopped++
		}
		if sv.State == "STARTED" && sv.Health != "" && sv.Health != "HEALTHY" {
			unhealthy++
		}
	}
	status, typ, at := "NONE", "", int64(0)
	if b := s.backup; b != nil {
		status, typ = b.Status, b.Type
		at = b.EndTime.Unix()
		if b.EndTime.IsZero() {
			at = b.StartTime.Unix()
		}
	}
	o = append(o,
		vpoller.Field{Key: "services", Value: int64(len(s.services))},
		vpoller.Field{Key: "servicesStopped", Value: stopped},
		vpoller.Field{Key: "servicesUnhealthy", Value: unhealthy},
		vpoller.Field{Key: "backupStatus", Value: status},
		vpoller.Field{Key: "backupType", Value: typ},
		vpoller.Field{Key: "backupTime", Value: at},
	)
	return vpoller.OK(msgAppliance, []any{o})
}

// applianceServiceDiscover (appliance.service.discover): the vMon
// services, [{"service", "nameKey", "startupType", "state", "health"}]
// sorted by service id.
func applianceServiceDiscover(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	s, err := a.appliance(ctx)
	if err != nil {
		return failAppliance(req, err)
	}
	out := make([]any, 0, len(s.services))
	for _, sv := range s.services {
		out = append(out, vpoller.Object{
			{Key: "service", Value: sv.ID},
			{Key: "nameKey", Value: sv.NameKey},
			{Key: "startupType", Value: sv.StartupType},
			{Key: "state", Value: sv.State},
			{Key: "health", Value: sv.Health},
		})
	}
	return vpoller.OK(msgAppliance, out)
}

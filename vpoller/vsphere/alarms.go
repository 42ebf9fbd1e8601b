package vsphere

import (
	"context"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

const msgAlarms = "Successfully retrieved alarms"

// alarmGet (<kind>.alarm.get) lists an entity's triggeredAlarmState:
// [{"key", "info" (alarm name), "time", "entity" (entity name),
// "acknowledged", "overallStatus", "acknowledgedByUser"}]. vCenter
// propagates alarms up the inventory, so a datacenter lists its hosts' and
// VMs' alarms. Cost: one call for the states (always read from vCenter,
// which raises them), one for the alarm names when there are any; entity
// names come from the mirror.
func alarmGet(k *objects.Kind) Handler {
	return func(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
		ref, err := a.store.Lookup(ctx, k, req.Name)
		if err != nil {
			return fail(req, err)
		}
		pv, err := a.store.Read(ctx, ref, req.Name, []string{"triggeredAlarmState"})
		if err != nil {
			return fail(req, err)
		}
		var states []types.AlarmState
		switch v := pv["triggeredAlarmState"].(type) {
		case types.ArrayOfAlarmState:
			states = v.AlarmState
		case []types.AlarmState:
			states = v
		}
		out := make([]any, 0, len(states))
		if len(states) == 0 {
			return vpoller.OK(msgAlarms, out)
		}
		var alarms []types.ManagedObjectReference
		seen := map[types.ManagedObjectReference]bool{}
		for _, s := range states {
			if !seen[s.Alarm] {
				seen[s.Alarm] = true
				alarms = append(alarms, s.Alarm)
			}
		}
		infos, err := a.store.GetMany(ctx, alarms, []string{"info.name"}) // alarms are not mirrored: one call
		if err != nil {
			return fail(req, err)
		}
		for _, s := range states {
			entity, err := nameOf(ctx, a, s.Entity)
			if err != nil {
				return fail(req, err)
			}
			var ack any
			if s.Acknowledged != nil {
				ack = *s.Acknowledged
			}
			var ackBy any
			if s.AcknowledgedByUser != "" {
				ackBy = s.AcknowledgedByUser
			}
			out = append(out, vpoller.Object{
				{Key: "key", Value: s.Key},
				{Key: "info", Value: toValue(infos[s.Alarm]["info.name"])},
				{Key: "time", Value: pyTime(s.Time)},
				{Key: "entity", Value: entity},
				{Key: "acknowledged", Value: ack},
				{Key: "overallStatus", Value: string(s.OverallStatus)},
				{Key: "acknowledgedByUser", Value: ackBy},
			})
		}
		return vpoller.OK(msgAlarms, out)
	}
}

package vsphere

import (
	"context"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

const msgAlarms = "Successfully retrieved alarms"

// alarmGet (<kind>.alarm.get) lists an entity's triggeredAlarmState:
// [{"key", "info" (alarm name), "time", "entity" (entity name),
// "acknowledged", "overallStatus", "acknowledgedByUser"}]. vCenter
// propagates alarms up the inventory, so a datacenter lists its hosts' and
// VMs' alarms. The states come from the agent's alarm snapshot
// (Store.Alarms): every alarm-bearing object's states read with one call
// at most once per AlarmMaxAge (20 s by default), with the alarm names
// cached per alarm, so the cost does not grow with the number of alarm
// items; entity names come from the mirror.
func alarmGet(k *objects.Kind) Handler {
	return func(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
		ref, err := a.store.Lookup(ctx, k, req.Name)
		if err != nil {
			return fail(req, err)
		}
		snap, err := a.store.Alarms(ctx)
		if err != nil {
			return fail(req, err)
		}
		states := snap.States(ref)
		out := make([]any, 0, len(states))
		for _, s := range states {
			entity, err := nameOf(ctx, a, s.Entity)
			if err != nil {
				return fail(req, err)
			}
			var info, ack, ackBy any
			if n, ok := snap.Name(s.Alarm); ok {
				info = n
			}
			if s.Acknowledged != nil {
				ack = *s.Acknowledged
			}
			if s.AcknowledgedByUser != "" {
				ackBy = s.AcknowledgedByUser
			}
			out = append(out, vpoller.Object{
				{Key: "key", Value: s.Key},
				{Key: "info", Value: info},
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

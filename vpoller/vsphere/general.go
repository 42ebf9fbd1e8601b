package vsphere

import (
	"context"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// about answers from the ServiceContent fetched at connect time: no
// vCenter call. Unknown property names give "(null)", as in the original.
func about(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	vc, err := a.Client(ctx)
	if err != nil {
		return fail(req, err)
	}
	props := req.Properties
	if len(props) == 0 {
		props = []string{"fullName"}
	}
	info, _ := toValue(vc.ServiceContent.About).(vpoller.Object)
	obj := vpoller.Object{}
	for _, p := range props {
		v, ok := info.Get(p)
		if !ok {
			v = "(null)"
		}
		obj.Set(p, v)
	}
	return vpoller.OK("Successfully retrieved properties", []any{obj})
}

// eventLatest reads eventManager.latestEvent (one call).
func eventLatest(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	vc, err := a.Client(ctx)
	if err != nil {
		return fail(req, err)
	}
	if vc.ServiceContent.EventManager == nil {
		return vpoller.Fail("No event manager on this vSphere agent")
	}
	ref := *vc.ServiceContent.EventManager
	pv, err := a.store.Get(ctx, ref, ref.Value, []string{"latestEvent"})
	if err != nil {
		return fail(req, err)
	}
	var msg any
	if ev, ok := pv["latestEvent"].(types.BaseEvent); ok && ev != nil {
		msg = ev.GetEvent().FullFormattedMessage
	}
	return vpoller.OK("Successfully retrieved event", []any{vpoller.Object{{Key: "event", Value: msg}}})
}

// sessionFields are the UserSession fields the original reports, all as
// Python str() text.
var sessionFields = []string{"key", "userName", "fullName", "loginTime", "lastActiveTime", "ipAddress", "userAgent", "callCount"}

// sessionGet reads sessionManager.sessionList (one call).
func sessionGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	vc, err := a.Client(ctx)
	if err != nil {
		return fail(req, err)
	}
	ref := *vc.ServiceContent.SessionManager
	pv, err := a.store.Get(ctx, ref, ref.Value, []string{"sessionList"})
	if err != nil {
		return fail(req, err)
	}
	var list []types.UserSession
	switch v := pv["sessionList"].(type) {
	case types.ArrayOfUserSession:
		list = v.UserSession
	case []types.UserSession:
		list = v
	}
	out := make([]any, 0, len(list))
	for _, us := range list {
		fields, _ := toValue(us).(vpoller.Object)
		obj := make(vpoller.Object, 0, len(sessionFields))
		for _, f := range sessionFields {
			v, _ := fields.Get(f)
			obj = append(obj, vpoller.Field{Key: f, Value: pyStr(v)})
		}
		out = append(out, obj)
	}
	return vpoller.OK("Successfully retrieved sessions", out)
}

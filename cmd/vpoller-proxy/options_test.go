package main

import (
	"fmt"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/config"
)

// TestProxyOptionsMapEverySetting gives every [proxy] setting its own
// value and checks that proxyOptions carries each one to the Options
// field of the same name, so a setting added to config.Proxy and not
// mapped (or mapped to the wrong field) fails here rather than being
// silently ignored by the proxy.
func TestProxyOptionsMapEverySetting(t *testing.T) {
	var c config.Proxy
	cv := reflect.ValueOf(&c).Elem()
	n := 0
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		n++
		switch {
		case v.Type() == reflect.TypeFor[time.Duration]():
			v.SetInt(int64(time.Duration(n) * time.Second))
		case v.Kind() == reflect.Int:
			v.SetInt(int64(n))
		case v.Kind() == reflect.String:
			v.SetString(fmt.Sprintf("value-%d", n))
		case v.Kind() == reflect.Bool:
			v.SetBool(true)
		case v.Kind() == reflect.Struct:
			for i := range v.NumField() {
				fill(v.Field(i))
			}
		default:
			t.Fatalf("config.Proxy has a field of kind %s: teach this test to fill it", v.Kind())
		}
	}
	fill(cv)
	log := slog.New(slog.DiscardHandler)
	ov := reflect.ValueOf(proxyOptions(c, log))
	for i := range cv.NumField() {
		name := cv.Type().Field(i).Name
		if name == "LogFile" { // opened by main, not the proxy's business
			continue
		}
		got := ov.FieldByName(name)
		if !got.IsValid() {
			t.Errorf("proxy.Options has no field %s for [proxy] setting config.Proxy.%s", name, name)
			continue
		}
		if want := cv.Field(i).Interface(); !reflect.DeepEqual(got.Interface(), want) {
			t.Errorf("Options.%s = %v, want %v (config.Proxy.%s)", name, got.Interface(), want, name)
		}
	}
	if got := ov.FieldByName("Logger").Interface(); got != log {
		t.Errorf("Options.Logger = %v, want the logger passed in", got)
	}
}

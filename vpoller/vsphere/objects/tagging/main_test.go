package tagging

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testutil.SimulatorLeaks()...) }

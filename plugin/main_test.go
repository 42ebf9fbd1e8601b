package plugin

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Tests must not read or write the host's state file: those about it
	// configure one in a temporary directory.
	eventsStateDefault = EventsStateOff
	goleak.VerifyTestMain(m)
}

package templates

// The fixed result shapes of the issue-18 methods (vpoller/vsphere's
// tests assert them on the simulator), for the dependent items' check.
func init() {
	fixedFields["host.service.get"] = []string{"key", "label", "running", "policy", "required"}
	fixedFields["host.ntp.get"] = []string{"name", "ntpConfigured", "ntpServers", "ntpRunning", "ntpPolicy", "timeZone"}
	fixedFields["host.path.discover"] = []string{"lun", "displayName", "policy", "paths", "active", "standby", "disabled", "dead", "unknown", "states"}
	fixedFields["vm.backup.get"] = []string{"name", "changeTrackingEnabled", "snapshots", "snapshotSize", "backupAttribute", "backupValue", "lastBackup", "backupAge"}
	fixedFields["datastore.space.get"] = []string{"name", "capacity", "freeSpace", "uncommitted", "used", "provisioned", "usedPct", "provisionedPct"}
}

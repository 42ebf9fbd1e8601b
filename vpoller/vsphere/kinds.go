package vsphere

// kind is a family of managed object types looked up together: what a
// method's "name" is matched against.
type kind struct {
	name  string
	types []string // concrete managed object types of the family
	byURL bool     // datastores are named by info.url in requests
	uuid  bool     // VMs and hosts can also be named by UUID
}

func (k *kind) has(typ string) bool {
	for _, t := range k.types {
		if t == typ {
			return true
		}
	}
	return false
}

var (
	kindDatacenter = &kind{name: "datacenter", types: []string{"Datacenter"}}
	kindCluster    = &kind{name: "cluster", types: []string{"ClusterComputeResource"}}
	kindHost       = &kind{name: "host", types: []string{"HostSystem"}, uuid: true}
	kindVM         = &kind{name: "vm", types: []string{"VirtualMachine"}, uuid: true}
	kindDatastore  = &kind{name: "datastore", types: []string{"Datastore"}, byURL: true}
	kindPool       = &kind{name: "resource pool", types: []string{"ResourcePool"}}
	kindNet        = &kind{name: "network", types: []string{"Network", "DistributedVirtualPortgroup", "OpaqueNetwork"}}
)

// Paths of the properties the inventory index follows, by type.
const (
	pathName         = "name"
	pathURL          = "info.url"
	pathVMInstUUID   = "config.instanceUuid"
	pathVMBiosUUID   = "config.uuid"
	pathHostUUID     = "hardware.systemInfo.uuid"
	pathHostParent   = "parent"
	typeContainerVew = "ContainerView"
)

// indexed lists every type the index holds and the properties it follows.
var indexed = map[string][]string{
	"Datacenter":                  {pathName},
	"ComputeResource":             {pathName},
	"ClusterComputeResource":      {pathName},
	"HostSystem":                  {pathName, pathHostUUID},
	"VirtualMachine":              {pathName, pathVMInstUUID, pathVMBiosUUID},
	"Datastore":                   {pathName, pathURL},
	"ResourcePool":                {pathName},
	"Network":                     {pathName},
	"DistributedVirtualPortgroup": {pathName},
	"OpaqueNetwork":               {pathName},
}

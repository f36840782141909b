// Package assemble puts the pieces of the earlier steps together into the
// container `ctrlab run` starts: an image's unpacked layers as an overlay
// rootfs with a per-container upper, a cgroup with limits, and a veth on a
// ctrlab bridge with published ports.
//
// Each piece is a container.Resource recorded in the container's state
// before it is made (write-ahead), with a handler registered in this
// package's init(): Create makes it before the init is cloned, Attach wires
// it to the init's PID before it execs, Release undoes it and succeeds when
// it is already gone. So `ctrlab rm -f` or `ctrlab ps` can release
// everything after the owner was SIGKILLed, and the detached shim (a
// re-executed ctrlab) knows the same kinds.
//
// Store layout under one root R (default $CTRLAB_ROOT or /var/lib/ctrlab):
//
//	R/images            OCI image layout (pkg/image)
//	R/layers            unpacked layers (pkg/image)
//	R/containers/ID     state.json, and upper/ work/ rootfs/ of the overlay
//	R/net               leases and attachments (pkg/netsetup)
package assemble

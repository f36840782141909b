package inspect

// Option changes what Snapshot reads.
type Option func(*options)

type options struct {
	hostPID string
	links   bool
}

func defaults(opts []Option) options {
	o := options{hostPID: "1", links: true}
	for _, fn := range opts {
		fn(&o)
	}
	return o
}

// WithHostPID sets the process whose namespaces count as the host's
// (default PID 1). Lab checks use it to compare a container with its parent.
func WithHostPID(pid string) Option { return func(o *options) { o.hostPID = pid } }

// WithoutLinks skips the network-interface dump (the netlink part).
func WithoutLinks() Option { return func(o *options) { o.links = false } }

// Package grade loads ctrlab's hands-on labs and grades them by reading the
// live kernel: the namespaces of a named process, the hostname seen inside
// its UTS namespace, links, addresses and routes inside a network
// namespace, a cgroup's limit and members, an overlay mount's layers, a file
// seen through a mount namespace. A check never trusts a file or an answer
// the learner typed: writing the expected words into a file does not pass.
//
// A lab is a YAML file (embedded from labs/): goal, background, tasks with
// hints, the checks of each task, a setup script that prepares fixtures, a
// reference solution script, and the exact list of objects reset removes.
package grade

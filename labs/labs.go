// Package labs embeds the hands-on labs that `ctrlab check` grades.
package labs

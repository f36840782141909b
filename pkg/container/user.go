package container

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ExecUser is a resolved -u: the ids the process runs with.
type ExecUser struct {
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	Groups []int  `json:"groups"`
	Home   string `json:"home"`
}

// ResolveUser resolves spec (uid[:gid] or name[:group], empty = root)
// against the container's /etc/passwd and /etc/group (which may be
// missing: numeric ids then need no lookup), as runc's user.GetExecUser.
func ResolveUser(spec, passwdPath, groupPath string) (*ExecUser, error) {
	u := &ExecUser{Home: "/"}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		userPart = "0"
	}
	users := readColon(passwdPath, 7)
	groups := readColon(groupPath, 4)
	name := ""
	if n, err := strconv.Atoi(userPart); err == nil {
		u.UID = n
		for _, f := range users {
			if f[2] == userPart {
				name, u.GID, u.Home = f[0], atoi(f[3]), f[5]
				break
			}
		}
	} else {
		found := false
		for _, f := range users {
			if f[0] == userPart {
				name, u.UID, u.GID, u.Home, found = f[0], atoi(f[2]), atoi(f[3]), f[5], true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("user %q: no such user in %s", userPart, passwdPath)
		}
	}
	if hasGroup {
		if n, err := strconv.Atoi(groupPart); err == nil {
			u.GID = n
		} else {
			found := false
			for _, f := range groups {
				if f[0] == groupPart {
					u.GID, found = atoi(f[2]), true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("group %q: no such group in %s", groupPart, groupPath)
			}
		}
	} else if name != "" {
		// Supplementary groups: those listing the user as a member.
		for _, f := range groups {
			for _, m := range strings.Split(f[3], ",") {
				if m == name {
					u.Groups = append(u.Groups, atoi(f[2]))
				}
			}
		}
	}
	if u.Home == "" {
		u.Home = "/"
	}
	return u, nil
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// readColon reads a colon-separated file, keeping lines with at least n fields.
func readColon(path string, n int) [][]string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	return parseColon(f, n)
}

func parseColon(r io.Reader, n int) [][]string {
	var out [][]string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < n {
			continue
		}
		out = append(out, f)
	}
	return out
}

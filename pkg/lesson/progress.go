package lesson

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"
)

// Progress records, per lesson, the next step to run and whether the
// learner finished it.
type Progress struct {
	Lessons map[string]LessonProgress `json:"lessons"`
	// path and owner are where and for whom the file is saved.
	path     string
	uid, gid int
}

// LessonProgress is one lesson's record.
type LessonProgress struct {
	// Next is the 0-based index of the next step to run.
	Next    int       `json:"next"`
	Done    bool      `json:"done"`
	Updated time.Time `json:"updated"`
}

// ProgressPath returns where the learner's progress lives and the uid/gid
// that should own it (-1 when the current user should). It is
// $XDG_CONFIG_HOME/ctrlab/progress.json, else ~/.config/ctrlab/progress.json;
// under sudo (SUDO_USER set, running as root, no XDG_CONFIG_HOME) it is the
// invoking user's ~/.config, owned by SUDO_UID:SUDO_GID.
func ProgressPath() (path string, uid, gid int, err error) {
	uid, gid = -1, -1
	if os.Geteuid() == 0 {
		if u, e := strconv.Atoi(os.Getenv("SUDO_UID")); e == nil && u != 0 {
			uid = u
			gid = u
			if g, e := strconv.Atoi(os.Getenv("SUDO_GID")); e == nil {
				gid = g
			}
		}
	}
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "ctrlab", "progress.json"), uid, gid, nil
	}
	home := ""
	if name := os.Getenv("SUDO_USER"); uid >= 0 && name != "" {
		if u, e := user.Lookup(name); e == nil {
			home = u.HomeDir
		}
	}
	if home == "" {
		if home, err = os.UserHomeDir(); err != nil {
			return "", -1, -1, fmt.Errorf("finding the home directory for progress: %w", err)
		}
	}
	return filepath.Join(home, ".config", "ctrlab", "progress.json"), uid, gid, nil
}

// LoadProgress reads the learner's progress file (empty when absent).
func LoadProgress() (*Progress, error) {
	p, uid, gid, err := ProgressPath()
	if err != nil {
		return nil, err
	}
	return LoadProgressFile(p, uid, gid)
}

// LoadProgressFile reads progress from path; uid/gid (or -1) own it when saved.
func LoadProgressFile(path string, uid, gid int) (*Progress, error) {
	pr := &Progress{Lessons: map[string]LessonProgress{}, path: path, uid: uid, gid: gid}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return pr, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading progress %s: %w", path, err)
	}
	if err := json.Unmarshal(data, pr); err != nil {
		return nil, fmt.Errorf("parsing progress %s: %w (delete it or run 'ctrlab lesson --reset')", path, err)
	}
	if pr.Lessons == nil {
		pr.Lessons = map[string]LessonProgress{}
	}
	return pr, nil
}

// Path is the file the progress is saved to ("" for in-memory progress).
func (p *Progress) Path() string { return p.path }

// Set records a lesson's state and saves.
func (p *Progress) Set(name string, lp LessonProgress) error {
	lp.Updated = time.Now().UTC().Truncate(time.Second)
	p.Lessons[name] = lp
	return p.Save()
}

// Reset forgets one lesson ("" forgets all) and saves.
func (p *Progress) Reset(name string) error {
	if name == "" {
		p.Lessons = map[string]LessonProgress{}
	} else {
		delete(p.Lessons, name)
	}
	return p.Save()
}

// Save writes the file atomically (temp + rename), owned by the learner.
func (p *Progress) Save() error {
	if p.path == "" {
		return nil
	}
	dir := filepath.Dir(p.path)
	if err := p.mkdirOwned(dir); err != nil {
		return err
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".progress-*")
	if err != nil {
		return fmt.Errorf("saving progress: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("saving progress: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving progress: %w", err)
	}
	if p.uid >= 0 {
		if err := os.Chown(tmp.Name(), p.uid, p.gid); err != nil {
			return fmt.Errorf("giving progress file to uid %d: %w", p.uid, err)
		}
	}
	if err := os.Rename(tmp.Name(), p.path); err != nil {
		return fmt.Errorf("saving progress: %w", err)
	}
	return nil
}

// mkdirOwned creates dir and any missing parents, giving each directory it
// creates to the learner so a later unprivileged run can write there.
func (p *Progress) mkdirOwned(dir string) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("creating %s: %w", missing[i], err)
		}
		if p.uid >= 0 {
			if err := os.Chown(missing[i], p.uid, p.gid); err != nil {
				return fmt.Errorf("giving %s to uid %d: %w", missing[i], p.uid, err)
			}
		}
	}
	return nil
}

// Status is a short progress label for the lesson list: "done", "3/7" or "".
func (p *Progress) Status(l *Lesson) string {
	lp, ok := p.Lessons[l.Name]
	switch {
	case !ok:
		return ""
	case lp.Done:
		return "done"
	default:
		return fmt.Sprintf("%d/%d", min(lp.Next, len(l.Steps)), len(l.Steps))
	}
}

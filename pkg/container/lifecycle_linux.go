package container

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ctrlab/ctrlab/pkg/reexec"
)

func init() {
	RegisterKind("mount", Handler{Release: func(r Resource) error {
		err := syscall.Unmount(r.Path, syscall.MNT_DETACH)
		if err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			return err
		}
		return nil
	}})
	RegisterKind("dir", Handler{Release: func(r Resource) error { return os.RemoveAll(r.Path) }})
}

// Run creates the container in the store, starts it, waits for it, records
// its exit, releases its resources (removing its state too with
// AutoRemove) and returns the exit code of its process. This process is the
// container's owner: if it is SIGKILLed, the init dies too (Pdeathsig) and
// List or Remove release what is left.
func (s *Store) Run(ctx context.Context, cfg *Config, ro RunOptions, opts ...Option) (int, error) {
	st, err := s.create(cfg, ownedBy(ro))
	if err != nil {
		return -1, err
	}
	return s.run(ctx, st, ro, opts...)
}

// ownedBy records this process as the owner of the container.
func ownedBy(ro RunOptions) func(*State) {
	ownerStart, _ := pidStartTime(os.Getpid())
	return func(x *State) {
		x.OwnerPid, x.OwnerStart, x.AutoRemove, x.Detached = os.Getpid(), ownerStart, ro.AutoRemove, ro.detached
	}
}

func (s *Store) run(ctx context.Context, st *State, ro RunOptions, opts ...Option) (int, error) {
	cfg := &st.Config
	if st.OwnerPid != os.Getpid() { // the shim takes over a container RunDetached created
		if _, err := s.Update(st.ID, ownedBy(ro)); err != nil {
			s.discard(st.ID, cfg.Resources)
			return -1, err
		}
	}
	o := newOptions(opts)
	if err := createAll(withNarrator(ctx, o.explain), cfg.Resources); err != nil {
		s.discard(st.ID, cfg.Resources)
		return -1, err
	}
	c, err := Start(ctx, cfg, opts...)
	if err != nil {
		// Roll back: nothing of a container that never ran is kept.
		s.discard(st.ID, cfg.Resources)
		return -1, err
	}
	_, _ = s.Update(st.ID, func(x *State) {
		x.Status, x.Pid, x.PidStart, x.Started = Running, c.Pid, c.PidStart, time.Now().UTC()
	})
	if ro.OnStarted != nil {
		ro.OnStarted(c)
	}
	copied := make(chan struct{})
	if con := c.Console(); con != nil {
		if ro.TerminalFD > 0 {
			_ = ResizeConsole(con, ro.TerminalFD)
		}
		if o.stdin != nil {
			go func() { _, _ = io.Copy(con, o.stdin) }()
		}
		go func() {
			if o.stdout != nil {
				_, _ = io.Copy(o.stdout, con)
			} else {
				_, _ = io.Copy(io.Discard, con)
			}
			close(copied)
		}()
	} else {
		close(copied)
	}
	done := make(chan struct{})
	var code int
	var werr error
	go func() {
		code, werr = waitConsole(c, copied)
		close(done)
	}()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case sig := <-ro.Signals:
			if sig == syscall.SIGWINCH {
				if c.Console() != nil && ro.TerminalFD > 0 {
					_ = ResizeConsole(c.Console(), ro.TerminalFD)
				}
				continue
			}
			_ = c.Signal(sig)
		}
	}
	s.finish(st.ID, code, cfg.Resources)
	return code, werr
}

// waitConsole waits for the process and then for its pty output to drain.
func waitConsole(c *Container, copied <-chan struct{}) (int, error) {
	var code int
	var err error
	if c.console != nil {
		// Wait closes the master; wait for the copy first, which ends with
		// EIO when the last holder of the slave (the container) is gone.
		ps, werr := c.cmd.Process.Wait()
		<-copied
		c.waitOnce.Do(func() {
			c.code, c.waitErr = exitCode(ps, werr)
			c.console.Close()
		})
		code, err = c.code, c.waitErr
	} else {
		code, err = c.Wait()
	}
	return code, err
}

// finish records the exit and releases resources (and the state with AutoRemove).
func (s *Store) finish(id string, code int, rs []Resource) {
	var rm bool
	st, err := s.Update(id, func(x *State) {
		if x.Status == Running || x.Status == Creating {
			x.Status, x.ExitCode, x.Finished = Stopped, code, time.Now().UTC()
		}
		rm = x.AutoRemove
	})
	if err == nil {
		rs = st.Config.Resources
	}
	if rerr := ReleaseAll(rs); rerr != nil && err == nil {
		_, _ = s.Update(id, func(x *State) { x.Error = rerr.Error() })
	}
	if rm {
		_ = os.RemoveAll(s.Dir(id))
	}
}

// discard releases resources and deletes the state of a container that
// never started.
func (s *Store) discard(id string, rs []Resource) {
	if st, err := s.read(id); err == nil {
		rs = st.Config.Resources
	}
	_ = ReleaseAll(rs)
	_ = os.RemoveAll(s.Dir(id))
}

// RunDetached creates the container and hands it to a supervisor, the
// re-executed "ctrlab-shim" in its own session (setsid), which owns it,
// writes its output to container.log in the state dir, records its exit
// code and releases its resources when it exits. It returns once the
// container's process runs. Attach handlers of cfg.Resources run in the
// shim (WithAfterStart hooks cannot cross the exec; use RegisterKind).
func (s *Store) RunDetached(ctx context.Context, cfg *Config, ro RunOptions) (*State, error) {
	st, err := s.Create(cfg)
	if err != nil {
		return nil, err
	}
	if ro.AutoRemove {
		if _, err := s.Update(st.ID, func(x *State) { x.AutoRemove = true }); err != nil {
			s.discard(st.ID, cfg.Resources)
			return nil, err
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		s.discard(st.ID, cfg.Resources)
		return nil, err
	}
	defer r.Close()
	cmd := reexec.Command(ShimEntrypoint, s.Root, st.ID)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no Pdeathsig: it outlives us
	cmd.ExtraFiles = []*os.File{w}
	cmd.Env = []string{"PATH=" + DefaultPath}
	if err := cmd.Start(); err != nil {
		w.Close()
		s.discard(st.ID, cfg.Resources)
		return nil, fmt.Errorf("starting %s: %w", ShimEntrypoint, err)
	}
	w.Close()
	go func() { _ = cmd.Wait() }() // reap it if we live longer than it
	line, rerr := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSpace(line)
	if line != "ok" {
		if line == "" {
			line = fmt.Sprintf("%s exited before starting the container (%v)", ShimEntrypoint, rerr)
		}
		s.discard(st.ID, cfg.Resources)
		return nil, errors.New(strings.TrimPrefix(line, "error: "))
	}
	return s.read(st.ID)
}

func shimMain() {
	if len(os.Args) != 3 {
		os.Exit(2)
	}
	notify := os.NewFile(3, "notify")
	syscall.CloseOnExec(3)
	s := NewStore(os.Args[1])
	st, err := s.read(os.Args[2])
	if err != nil {
		fmt.Fprintf(notify, "error: %v\n", err)
		os.Exit(1)
	}
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGPIPE)
	logf, err := os.OpenFile(s.LogPath(st.ID), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		fmt.Fprintf(notify, "error: opening log: %v\n", err)
		os.Exit(1)
	}
	ro := RunOptions{AutoRemove: st.AutoRemove, detached: true, OnStarted: func(*Container) {
		fmt.Fprintln(notify, "ok")
		notify.Close()
	}}
	if _, err := s.run(context.Background(), st, ro, WithStdio(nil, logf, logf)); err != nil {
		fmt.Fprintf(notify, "error: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// List returns every container, oldest first. A container whose owner
// (ctrlab run or the shim) died without recording an exit is reaped on the
// spot: its init is killed if somehow alive, its resources released, and it
// is marked Dead (or removed, if it was started with --rm).
func (s *Store) List() ([]*State, error) {
	all, err := s.load()
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, st := range all {
		if (st.Status == Running || st.Status == Creating) && !alive(st.OwnerPid, st.OwnerStart) {
			if st.Status == Creating && st.OwnerPid == 0 && time.Since(st.Created) < time.Minute {
				out = append(out, st) // being created right now
				continue
			}
			nst, removed := s.reap(st.ID)
			if removed {
				continue
			}
			if nst != nil {
				st = nst
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// reap cleans up after a dead owner; it reports whether the state is gone.
func (s *Store) reap(id string) (*State, bool) {
	unlock, err := s.Lock(id)
	if err != nil {
		return nil, false
	}
	defer unlock()
	st, err := s.read(id)
	if err != nil {
		return nil, true
	}
	if st.Status != Running && st.Status != Creating || alive(st.OwnerPid, st.OwnerStart) {
		return st, false
	}
	killAndWait(st.Pid, st.PidStart)
	rerr := ReleaseAll(st.Config.Resources)
	if st.AutoRemove && rerr == nil {
		_ = os.RemoveAll(s.Dir(id))
		return nil, true
	}
	st.Status, st.ExitCode, st.Finished = Dead, -1, time.Now().UTC()
	if rerr != nil {
		st.Error = rerr.Error()
	}
	_ = s.Save(st)
	return st, false
}

// killAndWait SIGKILLs pid (if it is still that process) and polls until it is gone.
func killAndWait(pid int, start uint64) {
	if signalIfAlive(pid, start, syscall.SIGKILL) != nil {
		return
	}
	waitGone(pid, start, 30*time.Second)
}

func waitGone(pid int, start uint64, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for alive(pid, start) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// running returns the container if its PID 1 is alive.
func (s *Store) running(name string) (*State, error) {
	st, err := s.Get(name)
	if err != nil {
		return nil, err
	}
	if st.Status != Running || !alive(st.Pid, st.PidStart) {
		return nil, fmt.Errorf("%s: %w", st.Name, ErrNotRunning)
	}
	return st, nil
}

// Kill sends sig to the container's PID 1. Equivalent to: `kill -SIG PID`.
func (s *Store) Kill(name string, sig syscall.Signal) error {
	st, err := s.running(name)
	if err != nil {
		return err
	}
	return signalIfAlive(st.Pid, st.PidStart, sig)
}

// Stop sends SIGTERM, waits up to timeout, then SIGKILL, and waits for the
// owner to record the exit. As with docker, a PID 1 without a SIGTERM
// handler ignores SIGTERM (the kernel protects a namespace's init).
func (s *Store) Stop(name string, timeout time.Duration) (*State, error) {
	st, err := s.running(name)
	if err != nil {
		return nil, err
	}
	_ = signalIfAlive(st.Pid, st.PidStart, syscall.SIGTERM)
	if !waitGone(st.Pid, st.PidStart, timeout) {
		killAndWait(st.Pid, st.PidStart)
	}
	s.waitOwner(st)
	return s.Get(st.ID)
}

// waitOwner waits (bounded) for the owner to record the exit and, when the
// owner is another process (ctrlab run, the shim), for it to finish
// releasing and exit, so that nothing writes in the store after we return.
func (s *Store) waitOwner(st *State) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && alive(st.OwnerPid, st.OwnerStart) {
		cur, err := s.read(st.ID)
		recorded := err != nil || (cur.Status != Running && cur.Status != Creating)
		if recorded && st.OwnerPid == os.Getpid() {
			return // we are the owner (a library caller): it finishes after we return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Remove deletes a stopped container: releases its resources and its state
// directory. With force a running one is SIGKILLed first. It also cleans
// up after an owner that was SIGKILLed.
func (s *Store) Remove(name string, force bool) error {
	st, err := s.Get(name)
	if err != nil {
		return err
	}
	if st.Status == Running || st.Status == Creating {
		if alive(st.Pid, st.PidStart) && !force {
			return fmt.Errorf("removing %s: %w", st.Name, ErrRunning)
		}
		killAndWait(st.Pid, st.PidStart)
		s.waitOwner(st)
	}
	unlock, err := s.Lock(st.ID)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // its owner removed it (--rm)
		}
		return err
	}
	defer unlock()
	cur, err := s.read(st.ID)
	if err != nil {
		return nil
	}
	if err := ReleaseAll(cur.Config.Resources); err != nil {
		return fmt.Errorf("removing %s: %w", st.Name, err)
	}
	if err := os.RemoveAll(s.Dir(st.ID)); err != nil {
		return fmt.Errorf("removing state of %s: %w", st.Name, err)
	}
	return nil
}

// Logs copies a detached container's log to w; with follow it keeps
// copying until the container stops or ctx is done. Equivalent to: `tail -f`.
func (s *Store) Logs(ctx context.Context, name string, follow bool, w io.Writer) error {
	st, err := s.Get(name)
	if err != nil {
		return err
	}
	f, err := os.Open(s.LogPath(st.ID))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s has no log: only containers run with -d write one", st.Name)
		}
		return err
	}
	defer f.Close()
	for {
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		if !follow {
			return nil
		}
		cur, err := s.read(st.ID)
		if err != nil || cur.Status != Running || !alive(cur.OwnerPid, cur.OwnerStart) {
			_, err := io.Copy(w, f) // what was written before it stopped
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

//go:build unix

package reexec

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
)

// The pipe protocol between a parent and a re-exec'd init (as runc's
// init pipe):
//
//  1. the parent sends one JSON config line on the config pipe (fd 3 in
//     the child, named by _CTRLAB_INITPIPE);
//  2. the child sets itself up and sends JSON message lines back on the
//     message pipe (fd 4, _CTRLAB_EVIDENCEPIPE): evidence, or an error;
//  3. the parent looks at the child from outside, then writes one "go"
//     byte and closes the config pipe;
//  4. the child marks both pipes close-on-exec and execs the command: the
//     parent reads EOF; if the exec fails the child sends an error first.
const (
	EnvConfigPipe  = EnvPrefix + "INITPIPE"     // fd: config JSON line, then the "go" byte
	EnvMessagePipe = EnvPrefix + "EVIDENCEPIPE" // fd: JSON message lines back to the parent
)

// Child is the parent's end of a re-exec'd init and its two pipes.
type Child struct {
	// Cmd is the child's command; set Stdin/Stdout/Stderr and SysProcAttr
	// (Cloneflags, UidMappings, ...) before Start. Cmd.Process is set after.
	Cmd    *exec.Cmd
	cfgR   *os.File // child's ends, closed in the parent after Start
	evW    *os.File
	cfgW   *os.File
	evR    *os.File
	ev     *bufio.Reader
	waited chan error
	once   sync.Once
	werr   error
}

// NewChild makes the pipes and the command for the entrypoint name, with
// the pipes as fds 3 and 4 and a cleaned environment naming them. Call
// Start, then Close when done.
func NewChild(name string) (*Child, error) {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating the config pipe: %w", err)
	}
	evR, evW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		cfgW.Close()
		return nil, fmt.Errorf("creating the message pipe: %w", err)
	}
	cmd := Command(name)
	cmd.ExtraFiles = []*os.File{cfgR, evW}
	cmd.Env = append(CleanEnv(os.Environ()), EnvConfigPipe+"=3", EnvMessagePipe+"=4")
	return &Child{Cmd: cmd, cfgR: cfgR, evW: evW, cfgW: cfgW, evR: evR,
		ev: bufio.NewReader(evR), waited: make(chan error, 1)}, nil
}

// Start runs before (if not nil), then starts the child, both on one
// locked OS thread that lives until the child is reaped: Pdeathsig fires
// when the thread that forked the child exits. The goroutine returns
// without unlocking, so the runtime discards the thread and any per-thread
// state before (or the fork) gave it. The error is before's or
// exec.Cmd.Start's, unwrapped; on error the pipes are closed.
func (c *Child) Start(before func() error) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if before != nil {
			if err := before(); err != nil {
				started <- err
				return
			}
		}
		if err := c.Cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.waited <- c.Cmd.Wait()
	}()
	err := <-started
	c.cfgR.Close()
	c.evW.Close()
	if err != nil {
		c.Close()
	}
	return err
}

// Send writes v as the config line.
func (c *Child) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = c.cfgW.Write(append(b, '\n'))
	return err
}

// Recv reads the next message line into v. It returns an error (io.EOF
// when the child exec'd or died) if there was none.
func (c *Child) Recv(v any) error {
	line, err := c.ev.ReadBytes('\n')
	if len(line) == 0 {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("decoding the child's message: %w", err)
	}
	return nil
}

// Go sends the "go" byte and closes the config pipe: the child execs.
func (c *Child) Go() error {
	if _, err := c.cfgW.Write([]byte{'g'}); err != nil {
		return err
	}
	return c.cfgW.Close()
}

// Kill sends SIGKILL to the child.
func (c *Child) Kill() { _ = c.Cmd.Process.Kill() }

// Wait waits for the child to exit and returns exec.Cmd.Wait's error; it
// may be called more than once.
func (c *Child) Wait() error {
	c.once.Do(func() { c.werr = <-c.waited })
	return c.werr
}

// Close closes the parent's ends of the pipes.
func (c *Child) Close() {
	c.cfgW.Close()
	c.evR.Close()
}

// ChildPipes is the re-exec'd init's end of the pipes.
type ChildPipes struct{ In, Out *os.File }

// OpenChildPipes opens the pipes named by the environment (fds 3 and 4 by
// default).
func OpenChildPipes() *ChildPipes {
	fd := func(env string, def int) uintptr {
		if n, err := strconv.Atoi(os.Getenv(env)); err == nil {
			return uintptr(n)
		}
		return uintptr(def)
	}
	return &ChildPipes{os.NewFile(fd(EnvConfigPipe, 3), "initpipe"), os.NewFile(fd(EnvMessagePipe, 4), "evidencepipe")}
}

// ConfigError is ReadConfig's error: Op is "reading config" or "decoding
// config".
type ConfigError struct {
	Op  string
	Err error
}

func (e *ConfigError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// ReadConfig reads the config line into v. It reads one byte at a time so
// that the later "go" byte is not swallowed by a buffer. The error is a
// *ConfigError.
func (p *ChildPipes) ReadConfig(v any) error {
	var line []byte
	var b [1]byte
	for {
		n, err := p.In.Read(b[:])
		if n == 1 && b[0] == '\n' {
			break
		}
		if n == 1 {
			line = append(line, b[0])
			continue
		}
		if err != nil {
			return &ConfigError{"reading config", err}
		}
	}
	if err := json.Unmarshal(line, v); err != nil {
		return &ConfigError{"decoding config", err}
	}
	return nil
}

// Send writes v as one message line to the parent.
func (p *ChildPipes) Send(v any) {
	b, _ := json.Marshal(v)
	_, _ = p.Out.Write(append(b, '\n'))
}

// WaitGo blocks until the parent's "go" byte and reports whether it came
// (false: the parent closed the pipe or died).
func (p *ChildPipes) WaitGo() bool {
	var b [1]byte
	n, _ := p.In.Read(b[:])
	return n == 1
}

// CloseOnExec marks both pipes close-on-exec: the parent reads EOF when
// the exec succeeds.
func (p *ChildPipes) CloseOnExec() {
	syscall.CloseOnExec(int(p.In.Fd()))
	syscall.CloseOnExec(int(p.Out.Fd()))
}

// Close closes both pipes.
func (p *ChildPipes) Close() {
	p.In.Close()
	p.Out.Close()
}

//go:build unix

package reexec

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
)

// The pipe protocol between a parent and its re-exec'd init (as runc's
// init pipe): (1) the parent sends one JSON config line on fd 3; (2) the
// child sets itself up and sends JSON message lines back on fd 4
// (evidence, or an error); (3) the parent looks at the child from outside,
// then writes one "go" byte and closes fd 3; (4) with both pipes
// close-on-exec the child execs the command: the parent reads EOF, or an
// error message if the exec failed.
const (
	EnvConfigPipe  = EnvPrefix + "INITPIPE"     // fd of the config pipe
	EnvMessagePipe = EnvPrefix + "EVIDENCEPIPE" // fd of the message pipe
)

// Child is the parent's end of a re-exec'd init and its pipes.
type Child struct {
	Cmd                  *exec.Cmd
	cfgR, cfgW, evR, evW *os.File
	ev                   *bufio.Reader
	ctx                  context.Context
	stop                 func() bool
	waited               chan error
	wait                 func() error
}

// Start starts entrypoint name with the pipes as fds 3 and 4 (named in its
// environment), killing it when ctx ends; call Close when done. setup (if
// not nil) configures the command on the thread that forks the child: it
// stays locked until the child is reaped (Pdeathsig fires when the forking
// thread exits), then is discarded with any per-thread state.
func Start(ctx context.Context, name string, setup func(*exec.Cmd) error) (*Child, error) {
	c := &Child{Cmd: Command(name), stop: func() bool { return false }, waited: make(chan error, 1)}
	var err error
	if c.cfgR, c.cfgW, err = os.Pipe(); err != nil {
		return nil, fmt.Errorf("creating the config pipe: %w", err)
	}
	if c.evR, c.evW, err = os.Pipe(); err != nil {
		c.cfgR.Close()
		c.Close()
		return nil, fmt.Errorf("creating the message pipe: %w", err)
	}
	c.ev, c.wait = bufio.NewReader(c.evR), sync.OnceValue(func() error { return <-c.waited })
	c.Cmd.ExtraFiles = []*os.File{c.cfgR, c.evW}
	c.Cmd.Env = append(CleanEnv(os.Environ()), EnvConfigPipe+"=3", EnvMessagePipe+"=4")
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := error(nil)
		if setup != nil {
			err = setup(c.Cmd)
		}
		if err == nil {
			err = c.Cmd.Start()
		}
		if started <- err; err == nil {
			c.waited <- c.Cmd.Wait()
		}
	}()
	err = <-started
	c.cfgR.Close()
	c.evW.Close()
	if err != nil {
		c.Close()
		return nil, err
	}
	c.ctx, c.stop = ctx, context.AfterFunc(ctx, c.Kill)
	return c, nil
}

// Send writes v as the config line; on error the child is killed and reaped.
func (c *Child) Send(v any) error {
	b, _ := json.Marshal(v)
	_, err := c.cfgW.Write(append(b, '\n'))
	return c.killOn(err)
}

// Recv decodes the next message line into v (io.EOF: there is none).
func (c *Child) Recv(v any) error {
	line, err := c.ev.ReadBytes('\n')
	if len(line) == 0 {
		return err
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("decoding the init's message: %w", err)
	}
	return nil
}

// Go runs ready, then sends the go byte and closes the config pipe: the
// child execs. On error the child is killed and reaped.
func (c *Child) Go(ready func() error) error {
	if err := ready(); err != nil {
		return c.killOn(err)
	}
	if _, err := c.cfgW.Write([]byte{'g'}); err != nil {
		return c.killOn(fmt.Errorf("starting the command: %w", err))
	}
	c.cfgW.Close()
	return nil
}

// Finish waits for the command after Go. A message the child sent instead
// of exec'ing (the exec failed) is decoded into v. It returns the exit
// status (ExitStatus) and ctx's error if it ended, or Wait's if the status
// is unknown (-1).
func (c *Child) Finish(v any) (int, error) {
	_ = c.Recv(v) // EOF when the exec succeeded
	werr := c.Wait()
	if status := ExitStatus(werr); status >= 0 || c.ctx.Err() != nil {
		return status, c.ctx.Err()
	}
	return -1, fmt.Errorf("waiting for the command: %w", werr)
}

// Kill sends SIGKILL to the child.
func (c *Child) Kill() { _ = c.Cmd.Process.Kill() }

// Wait returns exec.Cmd.Wait's error once the child has exited.
func (c *Child) Wait() error { return c.wait() }

func (c *Child) killOn(err error) error {
	if err != nil {
		c.Kill()
		c.Wait()
	}
	return err
}

// Close closes the parent's ends of the pipes and forgets ctx.
func (c *Child) Close() {
	c.stop()
	c.cfgW.Close()
	c.evR.Close() // nil-safe
}

// ChildPipes is the init's end of the pipes.
type ChildPipes struct {
	In, Out *os.File
	// Fail reports a failed step to the parent (with Send) and exits with
	// code; it does not return.
	Fail func(code int, op, target string, err error)
}

// OpenChildPipes opens the pipes named in the environment (fds 3 and 4);
// set Fail before ReadConfig.
func OpenChildPipes() *ChildPipes {
	fd := func(env string, def int) uintptr {
		if n, err := strconv.Atoi(os.Getenv(env)); err == nil {
			return uintptr(n)
		}
		return uintptr(def)
	}
	return &ChildPipes{In: os.NewFile(fd(EnvConfigPipe, 3), "initpipe"), Out: os.NewFile(fd(EnvMessagePipe, 4), "evidencepipe")}
}

// ReadConfig reads the config line into v, byte by byte to leave the go
// byte in the pipe; it calls Fail(1, "reading config" or "decoding config")
// on error.
func (p *ChildPipes) ReadConfig(v any) {
	var line []byte
	for b := make([]byte, 1); ; {
		n, err := p.In.Read(b)
		if n == 1 && b[0] == '\n' {
			break
		} else if n == 1 {
			line = append(line, b[0])
		} else if err != nil {
			p.Fail(1, "reading config", "", err)
		}
	}
	if err := json.Unmarshal(line, v); err != nil {
		p.Fail(1, "decoding config", "", err)
	}
}

// Send writes v as one message line to the parent.
func (p *ChildPipes) Send(v any) {
	b, _ := json.Marshal(v)
	_, _ = p.Out.Write(append(b, '\n'))
}

// WaitGo marks both pipes close-on-exec, so the parent reads EOF once the
// child execs, and reports whether the go byte came (not: the parent went
// away).
func (p *ChildPipes) WaitGo() bool {
	syscall.CloseOnExec(int(p.In.Fd()))
	syscall.CloseOnExec(int(p.Out.Fd()))
	n, _ := p.In.Read(make([]byte, 1))
	return n == 1
}

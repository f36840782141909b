package netsetup

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ctrlab/ctrlab/pkg/reexec"
)

// EchoEntrypoint is the re-exec entrypoint of the demo's TCP echo server.
const EchoEntrypoint = "ctrlab-net-echo"

func init() { reexec.Register(EchoEntrypoint, echoMain) }

// echoMain: ctrlab-net-echo NETNS_PATH ADDR. It enters the namespace,
// listens, prints "ready" on stdout and echoes every line back prefixed
// with the namespace's hostname-free identity, until killed.
func echoMain() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: ctrlab-net-echo NETNS_PATH ADDR")
		os.Exit(2)
	}
	ns, err := netns.GetFromPath(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "ctrlab-net-echo:", err)
		os.Exit(1)
	}
	var ln net.Listener
	err = inNS(ns, func() error {
		var err error
		ln, err = net.Listen("tcp4", os.Args[2])
		return err
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ctrlab-net-echo:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stdout, "ready")
	serveEcho(ln, os.Args[1])
	os.Exit(0)
}

func serveEcho(ln net.Listener, who string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				fmt.Fprintf(c, "echo from %s (peer %s): %s", who, c.RemoteAddr(), line)
			}
		}()
	}
}

// EchoServer is a running ctrlab-net-echo process.
type EchoServer struct {
	cmd *exec.Cmd
}

// StartEchoServer runs a TCP echo server inside the namespace at nsPath
// listening on addr (e.g. "0.0.0.0:8080"), and waits until it listens.
func StartEchoServer(ctx context.Context, nsPath, addr string) (*EchoServer, error) {
	cmd := reexec.Command(EchoEntrypoint, nsPath, addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting echo server: %w", err)
	}
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = fmt.Errorf("unexpected output %q", line)
		}
		ready <- err
	}()
	select {
	case err = <-ready:
	case <-ctx.Done():
		err = ctx.Err()
	case <-time.After(30 * time.Second):
		err = errors.New("timed out waiting for it to listen")
	}
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("starting echo server in %s: %w", nsPath, err)
	}
	return &EchoServer{cmd: cmd}, nil
}

// PID is the echo server's process id.
func (e *EchoServer) PID() int { return e.cmd.Process.Pid }

// Stop kills the echo server and reaps it.
func (e *EchoServer) Stop() error {
	_ = e.cmd.Process.Kill()
	_ = e.cmd.Wait()
	return nil
}

// DialIn opens a TCP connection from inside the namespace ns (the socket
// is created on a thread switched into ns, so it lives there).
func DialIn(ctx context.Context, ns netns.NsHandle, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNS(ns, func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, "tcp4", addr)
		return err
	})
	return c, err
}

// DialFromHost dials addr from inside the host namespace.
func (h *Host) DialFromHost(ctx context.Context, addr string) (net.Conn, error) {
	return DialIn(ctx, h.ns, addr)
}

// Exchange sends one line on c and reads one line back.
func Exchange(c net.Conn, msg string) (string, error) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimRight(line, "\n"), err
}

// Ping sends ICMP echo requests from inside the namespace ns to dst until
// one reply arrives or timeout passes, and returns the round-trip time.
// The raw socket (socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)) is created on a
// thread inside ns, so it sends from there; no ping binary is needed.
func Ping(ctx context.Context, ns netns.NsHandle, dst netip.Addr, timeout time.Duration) (time.Duration, error) {
	var fd int
	err := inNS(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("opening ICMP socket: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return 0, err
	}
	id := uint16(os.Getpid()) ^ uint16(fd<<8) ^ uint16(time.Now().UnixNano())
	sa := &unix.SockaddrInet4{Addr: dst.As4()}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 1500)
	for seq := uint16(1); time.Now().Before(deadline); seq++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		pkt := make([]byte, 8+16)
		pkt[0] = 8 // echo request
		binary.BigEndian.PutUint16(pkt[4:], id)
		binary.BigEndian.PutUint16(pkt[6:], seq)
		copy(pkt[8:], "ctrlab-ping-data")
		binary.BigEndian.PutUint16(pkt[2:], checksum(pkt))
		sent := time.Now()
		if err := unix.Sendto(fd, pkt, 0, sa); err != nil {
			return 0, fmt.Errorf("sending ICMP echo to %s: %w", dst, err)
		}
		for time.Since(sent) < time.Second {
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
					continue
				}
				return 0, err
			}
			ihl := int(buf[0]&0x0f) * 4
			if n < ihl+8 {
				continue
			}
			icmp := buf[ihl:n]
			if f, ok := from.(*unix.SockaddrInet4); !ok || f.Addr != sa.Addr {
				continue
			}
			if icmp[0] == 0 && binary.BigEndian.Uint16(icmp[4:]) == id && binary.BigEndian.Uint16(icmp[6:]) == seq {
				return time.Since(sent), nil
			}
		}
	}
	return 0, fmt.Errorf("no ICMP echo reply from %s within %s", dst, timeout)
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

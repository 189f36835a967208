// Package netns builds small networks of Linux network namespaces for
// tests and trials of runs that span machines: each host is a namespace
// with its own address, joined to the others by a veth pair on a bridge
// that lives in a namespace of its own, as separate machines on one
// switch. Nothing is added to the namespace the caller runs in, so the
// traffic between the hosts stays inside the namespaces the network
// created, and Close removes them all (the veth pairs go with them).
//
// It needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and the ip command
// (iproute2); Available says whether this machine can do it.
//
// Concurrency: a Net is used from one goroutine; the commands it returns
// may run concurrently.
package netns

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// namePrefix starts every namespace this package creates, followed by
// the creating process's PID, so leftovers of a process that died can be
// recognised and removed.
const namePrefix = "wsbnet-"

// Subnet is the hosts' network: private, and reachable only from the
// namespaces of one Net.
const Subnet = "10.77.0.0/16"

// Net is a network of hosts (namespaces) on one bridge.
type Net struct {
	id     string // unique per Net
	hub    string // the bridge's namespace
	hosts  []*Host
	closed bool
}

// Host is one namespace of a Net: a machine with one address.
type Host struct {
	Name string // as given to Add
	NS   string // the namespace's name, for ip netns exec
	IP   string // its address on the Net
}

// Available reports whether network namespaces and veth pairs can be
// made here (nil), or why not.
func Available() error {
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("no ip command (iproute2): %w", err)
	}
	n, err := New()
	if err != nil {
		return err
	}
	defer n.Close()
	if _, err := n.Add("probe"); err != nil {
		return err
	}
	return nil
}

// New creates an empty network: the bridge's namespace. It first removes
// the namespaces of earlier Nets whose process is gone.
func New() (*Net, error) {
	removeStale()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	n := &Net{id: strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b)}
	n.hub = namePrefix + n.id + "-hub"
	if err := ip("netns", "add", n.hub); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"-n", n.hub, "link", "add", "br0", "type", "bridge"},
		{"-n", n.hub, "link", "set", "br0", "up"},
		{"-n", n.hub, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			n.Close()
			return nil, err
		}
	}
	return n, nil
}

// Add creates a host: a namespace with loopback up and one address on
// the bridge, 10.77.X.Y in order of creation.
func (n *Net) Add(name string) (*Host, error) {
	k := len(n.hosts) + 1 // the first host is 10.77.0.2
	h := &Host{Name: name, NS: fmt.Sprintf("%s%s-%d", namePrefix, n.id, k), IP: fmt.Sprintf("10.77.%d.%d", k/250, k%250+1)}
	if err := ip("netns", "add", h.NS); err != nil {
		return nil, err
	}
	n.hosts = append(n.hosts, h)
	veth := "v" + strconv.Itoa(k)
	steps := [][]string{
		// Both ends are made in the hub, so no interface ever appears
		// in the caller's namespace; the far end moves to the host.
		{"-n", n.hub, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", h.NS},
		{"-n", n.hub, "link", "set", veth, "master", "br0", "up"},
		{"-n", h.NS, "addr", "add", h.IP + "/16", "dev", "eth0"},
		{"-n", h.NS, "link", "set", "eth0", "up"},
		{"-n", h.NS, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Command returns a command that runs in host h's namespace.
func (n *Net) Command(h *Host, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Sysctl sets a namespaced kernel setting in h (as a pod's
// securityContext.sysctls would), e.g. net.ipv4.ip_local_port_range.
func (n *Net) Sysctl(h *Host, key, value string) error {
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	out, err := n.Command(h, "sh", "-c", `printf '%s\n' "$1" > "$2"`, "sh", value, path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("sysctl %s=%s in %s: %v: %s", key, value, h.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Close removes every namespace of the network; their interfaces go
// with them. Processes still running in them keep them until they exit:
// end those first.
func (n *Net) Close() error {
	if n.closed {
		return nil
	}
	n.closed = true
	var errs []error
	for _, h := range n.hosts {
		errs = append(errs, ip("netns", "del", h.NS))
	}
	errs = append(errs, ip("netns", "del", n.hub))
	return errors.Join(errs...)
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// removeStale deletes the namespaces of Nets whose creating process has
// exited (a test killed by its timeout, say).
func removeStale() {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), namePrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == nil || errors.Is(syscall.Kill(pid, 0), syscall.EPERM) {
			continue // still running
		}
		_ = ip("netns", "del", e.Name())
	}
}

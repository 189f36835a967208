package netns

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// Two hosts reach each other by address, and Close leaves no namespace
// behind.
func TestTwoHosts(t *testing.T) {
	if err := Available(); err != nil {
		t.Skipf("network namespaces cannot be created here: %v", err)
	}
	n, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	a, err := n.Add("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.Add("b")
	if err != nil {
		t.Fatal(err)
	}
	if a.IP != "10.77.0.2" || b.IP != "10.77.0.3" {
		t.Fatalf("addresses %s, %s", a.IP, b.IP)
	}
	if err := n.Sysctl(b, "net.ipv4.ip_local_port_range", "20000 60999"); err != nil {
		t.Fatal(err)
	}
	if out, err := n.Command(b, "cat", "/proc/sys/net/ipv4/ip_local_port_range").Output(); err != nil || !strings.HasPrefix(string(out), "20000") {
		t.Fatalf("port range in b: %q %v", out, err)
	}
	// A one-shot TCP exchange from a to b: the test binary is both ends.
	srv := n.Command(b, os.Args[0], "-test.run=^TestHelperEcho$")
	srv.Env = append(os.Environ(), "NETNS_HELPER=listen:"+b.IP+":7001")
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "READY") {
		t.Fatalf("helper said %q", line)
	}
	cli := n.Command(a, os.Args[0], "-test.run=^TestHelperEcho$")
	cli.Env = append(os.Environ(), "NETNS_HELPER=dial:"+b.IP+":7001")
	got, err := cli.CombinedOutput()
	if err != nil || !strings.Contains(string(got), "from 10.77.0.2") {
		t.Fatalf("dial from a: %v: %s", err, got)
	}
	_ = srv.Wait()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{a.NS, b.NS, n.hub} {
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			t.Errorf("namespace %s left behind", ns)
		}
	}
}

// TestHelperEcho is one end of TestTwoHosts's exchange when NETNS_HELPER
// says which; otherwise it does nothing.
func TestHelperEcho(t *testing.T) {
	mode, addr, ok := strings.Cut(os.Getenv("NETNS_HELPER"), ":")
	if !ok {
		return
	}
	switch mode {
	case "listen":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("READY")
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		fmt.Fprintf(c, "from %s\n", host)
		c.Close()
	case "dial":
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Print(line)
	}
}

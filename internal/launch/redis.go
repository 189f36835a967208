package launch

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// RedisServer is the program a topology with bus "redis" starts (Debian's
// redis-server package; looked up on PATH).
var RedisServer = "redis-server"

// startRedis starts a private redis-server on a free loopback port: no
// persistence, no snapshot files, log on stdout. redis-server cannot pick
// its own port (port 0 turns TCP off), so a port taken between freePort
// and the bind is retried with another one.
func startRedis(ctx context.Context, dir string, wrap []string) (*Process, error) {
	var last error
	for range 5 {
		port, err := freePort("127.0.0.1")
		if err != nil {
			return nil, fmt.Errorf("start redis: %w", err)
		}
		addr := net.JoinHostPort("127.0.0.1", itoa(port))
		argv := wrap2(wrap, RedisServer,
			"--bind", "127.0.0.1", "--port", itoa(port),
			"--save", "", "--appendonly", "no", "--dir", dir,
			"--daemonize", "no", "--logfile", "", "--databases", "1")
		p, err := startService(ctx, argv, nil, addr, func(ctx context.Context) error {
			return poll(ctx, 20*time.Millisecond, func(ctx context.Context) error {
				reply, err := redisCommand(ctx, addr, "PING")
				if err == nil && reply != "PONG" {
					err = fmt.Errorf("PING answered %q", reply)
				}
				return err
			})
		})
		if err == nil {
			return p, nil
		}
		last = err
		if !strings.Contains(err.Error(), "Address already in use") || ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

// redisCommand sends one command to the Redis server at addr and returns
// its reply: a simple or bulk string (an error reply is an error).
func redisCommand(ctx context.Context, addr string, args ...string) (string, error) {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 || n > 1<<20 {
			return "", fmt.Errorf("bad bulk length %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

// redisInfo returns the fields of Redis's INFO reply.
func redisInfo(ctx context.Context, addr string) (map[string]string, error) {
	reply, err := redisCommand(ctx, addr, "INFO")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(reply, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out, nil
}

// redisCounters are the INFO fields a report keeps: what the bus carried
// and what it cost Redis.
var redisCounters = []string{
	"total_commands_processed", "total_net_input_bytes", "total_net_output_bytes",
	"connected_clients", "pubsub_patterns", "used_memory", "used_cpu_user", "used_cpu_sys",
}

// redisStats picks redisCounters out of INFO; CPU seconds become
// milliseconds (used_cpu_*_ms) so that every value is an integer.
func redisStats(info map[string]string) map[string]int64 {
	out := map[string]int64{}
	for _, k := range redisCounters {
		v, ok := info[k]
		if !ok {
			continue
		}
		if strings.HasPrefix(k, "used_cpu_") {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				out[k+"_ms"] = int64(f * 1000)
			}
			continue
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}

// wrap2 is wrap(prefix, append([]string{prog}, args...)).
func wrap2(prefix []string, prog string, args ...string) []string {
	return wrap(prefix, append([]string{prog}, args...))
}

package refserver_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/wsbench/wsbench/targets/refserver"
)

func ExampleServer() {
	srv := refserver.New(refserver.Config{
		PingInterval: 20 * time.Second,
		PingTimeout:  20 * time.Second,
	})
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	// WebSocket clients connect to ws://addr/echo, /broadcast?room=R and
	// /push?rate=N&size=B&count=C.
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println(srv.Shutdown(ctx), srv.Stats().ConnectionsOpen)
	// Output:
	// 200 ok
	// <nil> 0
}

package launch

import (
	"slices"
	"testing"
	"time"
)

func TestCommandPingInterval(t *testing.T) {
	for _, tt := range []struct {
		name string
		ping *time.Duration
		want []string // the --ping-interval flag and its value; nil: no flag
	}{
		{"left out: the target's default", nil, nil},
		{"zero: pings off", new(time.Duration(0)), []string{"--ping-interval", "0"}},
		{"fractional seconds", new(250 * time.Millisecond), []string{"--ping-interval", "0.25"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			argv, cleanup, err := Command("go", Settings{PingInterval: tt.ping})
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup()
			i := slices.Index(argv, "--ping-interval")
			switch {
			case tt.want == nil && i >= 0:
				t.Fatalf("argv %q passes --ping-interval", argv)
			case tt.want != nil && (i < 0 || i+1 >= len(argv) || !slices.Equal(argv[i:i+2], tt.want)):
				t.Fatalf("argv %q, want %q in it", argv, tt.want)
			}
		})
	}
}

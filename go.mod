module github.com/wsbench/wsbench

go 1.26

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0
	github.com/gobwas/httphead v0.1.0
	github.com/gobwas/ws v1.5.0
	github.com/goccy/go-yaml v1.19.2
	github.com/spf13/pflag v1.0.10
	golang.org/x/sys v0.47.0
)

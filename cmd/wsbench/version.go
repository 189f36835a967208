package main

import "github.com/wsbench/wsbench/report"

func version() string { return report.Version }

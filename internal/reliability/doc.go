// Package reliability holds no code: its tests are wsbench's fault matrix.
// Each case runs a real scenario with engine.Run against a fault server
// (package faultserver) on loopback, in-process or as a child process
// that is killed, frozen and restarted, and checks that the run ends on
// time, writes its report, classifies every failure once with the right
// cause, counts what the server counted, and maps to the exit code a CI
// user expects. The same case tables generate docs/reliability.md
// (go test ./internal/reliability -run Doc -update), so the document
// cannot drift from what the tests check.
//
// Runs are fixed in time; a run the machine starved (more than twice its
// wall time) that fails its checks is repeated once, twice as long, and
// that verdict stands, so a busy CI machine does not fail a case for want
// of time while a wrong count still fails every attempt.
//
// The package's TestMain turns a re-executed test binary into a fault
// server process (faultserver.ServeIfChild).
package reliability

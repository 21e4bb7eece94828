// Package freeport finds loopback addresses for servers that tests start
// as separate processes.
//
// Asking the kernel for port 0 and releasing it races with every outgoing
// connection, which draws from the same ephemeral range: another test's
// client can take the port before the server binds it. Ports are therefore
// drawn at random below Linux's ephemeral range (32768–60999), where only
// explicit binds land, and checked free before use.
package freeport

import (
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

const (
	low  = 20000
	high = 32000
)

// Addr returns "127.0.0.1:<port>" with a port nothing listens on.
func Addr(t testing.TB) string {
	t.Helper()
	for range 200 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(low+rand.IntN(high-low)))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		return addr
	}
	t.Fatal("freeport: no free port found")
	return ""
}

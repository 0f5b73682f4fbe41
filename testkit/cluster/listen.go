package cluster

import "net"

type netListener = net.Listener

// listenLoopback listens on a free port of 127.0.0.1 only.
func listenLoopback(network string) (net.Listener, error) {
	return net.Listen(network, "127.0.0.1:0")
}

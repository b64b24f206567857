// Command pause is the sandbox ("pause") container of the test node in
// hack/node.sh: it holds a pod's namespaces and does nothing else. It
// sleeps until SIGTERM or SIGINT and, as PID 1 of the pod, reaps any
// child that is reparented to it. Built static (CGO_ENABLED=0) into an
// image FROM scratch, because no image can be pulled here.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}

//go:build linux

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// raiseFileLimit raises the process's open-file limit as far as it may:
// the soft limit to the hard one and, for root on Linux, both to
// fs.nr_open. Setting it explicitly also makes the servers the bench
// starts inherit it (Go otherwise gives a child the limit it started
// with).
func raiseFileLimit() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	hard := lim.Max
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil && os.Geteuid() == 0 {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n > lim.Max {
			lim.Max = n
		}
	}
	lim.Cur = lim.Max
	err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	if err != nil && lim.Max > hard {
		// Raising the hard limit takes CAP_SYS_RESOURCE, which root
		// in a container may lack: the soft limit goes up to it.
		lim.Cur, lim.Max = hard, hard
		if err2 := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err2 == nil {
			return fmt.Errorf("the hard limit stays %d: %w", hard, err)
		}
	}
	return err
}

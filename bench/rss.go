package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// peakRSS samples a process' peak resident set (VmHWM in
// /proc/<pid>/status) every interval until stop is called, which returns
// the highest value seen in bytes (0 if none could be read).
//
// The rusage of the exited process is not used for it: Go starts a child
// with vfork (CLONE_VM), so the child's exec records the harness' own
// high-water RSS as the child's maxrss, and every contender smaller than
// the harness would report the harness' size. VmHWM belongs to the
// process' own address space, which exec creates afresh.
func peakRSS(pid int, interval time.Duration) (stop func() int64) {
	var peak atomic.Int64
	done := make(chan struct{})
	finished := make(chan struct{})
	path := fmt.Sprintf("/proc/%d/status", pid)
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if v := readHWM(path); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		<-finished
		return peak.Load()
	}
}

// readHWM returns the VmHWM of a /proc status file in bytes, or 0.
func readHWM(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "VmHWM:") {
			continue
		}
		fields := strings.Fields(strings.TrimPrefix(line, "VmHWM:"))
		if len(fields) == 0 {
			return 0
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0
		}
		return kb * 1024
	}
	return 0
}

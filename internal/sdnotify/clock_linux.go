package sdnotify

import (
	"syscall"
	"unsafe"
)

// clockMonotonic is CLOCK_MONOTONIC's id (linux/time.h).
const clockMonotonic = 1

// monotonicUsec is CLOCK_MONOTONIC in microseconds, the clock systemd
// compares RELOADING=1 with; 0 if it cannot be read.
func monotonicUsec() int64 {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return ts.Nano() / 1000
}

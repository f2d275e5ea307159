package audit

import "syscall"

// lowerThreadPriority lowers the scheduling priority of the calling OS
// thread (Linux schedules threads, and nice applies to one thread) by
// delta. Raising one's niceness needs no privilege.
func lowerThreadPriority(delta int) error {
	tid := syscall.Gettid()
	cur, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil {
		return err
	}
	// The raw getpriority syscall returns 20 - nice.
	nice := 20 - cur
	return syscall.Setpriority(syscall.PRIO_PROCESS, tid, min(nice+delta, 19))
}

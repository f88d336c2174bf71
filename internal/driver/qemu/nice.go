package qemu

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// renice sets the nice value of every thread of process pid. Linux keeps
// a nice value per thread, and QEMU has made its vCPU and I/O threads by
// the time its monitor answers, so each is set; threads QEMU makes later
// inherit the value from the thread that creates them.
func renice(pid, nice int) error {
	if nice == 0 {
		return nil
	}
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		// A thread that exits meanwhile (ESRCH) needs nothing.
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil && err != unix.ESRCH {
			return err
		}
	}
	return nil
}

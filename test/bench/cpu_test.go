package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuTimes is the CPU time (user + system) used so far by each process of a measurement:
// the server, etcd and this load generator. They share the machine's cores, so a rate is
// only explained together with where the CPU went.
type cpuTimes struct{ server, etcd, client time.Duration }

func (a cpuTimes) minus(b cpuTimes) cpuTimes {
	return cpuTimes{a.server - b.server, a.etcd - b.etcd, a.client - b.client}
}

func (a cpuTimes) plus(b cpuTimes) cpuTimes {
	return cpuTimes{a.server + b.server, a.etcd + b.etcd, a.client + b.client}
}

// perOp formats the CPU time per operation in milliseconds, as server/etcd/client.
func (a cpuTimes) perOp(ops int64) string {
	if ops == 0 {
		return "-"
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(ops) }
	return fmt.Sprintf("%.2f/%.2f/%.2f", ms(a.server), ms(a.etcd), ms(a.client))
}

// cpuMeter reads the processes' CPU times from /proc; serverPid and etcdPid are read at each
// call, because a test may restart a process.
type cpuMeter struct {
	serverPid, etcdPid func() int
}

func (m *cpuMeter) read() cpuTimes {
	if m == nil {
		return cpuTimes{}
	}
	return cpuTimes{server: procCPU(strconv.Itoa(m.serverPid())), etcd: procCPU(strconv.Itoa(m.etcdPid())), client: procCPU("self")}
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times; it is 100 on every Linux
// architecture Go supports.
const clockTick = 10 * time.Millisecond

// procCPU is utime+stime of a process, 0 when it cannot be read (not Linux, process gone).
func procCPU(pid string) time.Duration {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may contain spaces; the fields after it are plain.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * clockTick
}

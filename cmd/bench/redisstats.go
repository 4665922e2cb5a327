package main

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// serverStats reads Redis's own counters. They are server-wide: other
// clients' commands, in any database, are counted too. A server without
// INFO commandstats (miniredis) gives only its total of commands, and no
// CPU time.
type serverStats struct {
	rdb        *redis.Client
	perCommand bool
	// infoCalls counts the INFO commands sent in total-only mode, which
	// the total includes.
	infoCalls int64
}

// serverReading is the server's counters at one moment.
type serverReading struct {
	// commands are the calls of each command, INFO excluded.
	commands map[string]commandStat
	// connections is total_connections_received.
	connections int64
	// cpu is the CPU time Redis has used; hasCPU is false when the server
	// does not say.
	cpu    time.Duration
	hasCPU bool
}

// commandStat is one command's counters.
type commandStat struct {
	calls int64
	usec  int64
}

// totalOnly is the one "command" of a server without commandstats.
const totalOnly = "(all commands)"

func newServerStats(ctx context.Context, rdb *redis.Client) (*serverStats, error) {
	s := &serverStats{rdb: rdb}
	if _, err := rdb.Info(ctx, "commandstats").Result(); err == nil {
		s.perCommand = true
		return s, nil
	}
	if _, err := s.read(ctx); err != nil {
		return nil, fmt.Errorf("redis: neither INFO commandstats nor INFO stats: %w", err)
	}
	return s, nil
}

// read returns the server's counters now, in one round trip.
func (s *serverStats) read(ctx context.Context) (serverReading, error) {
	if s.perCommand {
		info, err := s.rdb.Info(ctx, "commandstats", "cpu", "stats").Result()
		if err != nil {
			return serverReading{}, fmt.Errorf("info: %w", err)
		}
		r := serverReading{commands: parseCommandStats(info), connections: infoInt(info, "total_connections_received")}
		delete(r.commands, "info")
		r.cpu, r.hasCPU = redisCPU(info)
		return r, nil
	}
	info, err := s.rdb.Info(ctx, "stats").Result()
	if err != nil {
		return serverReading{}, fmt.Errorf("info stats: %w", err)
	}
	s.infoCalls++
	total, err := strconv.ParseInt(infoField(info, "total_commands_processed"), 10, 64)
	if err != nil {
		return serverReading{}, fmt.Errorf("info stats: total_commands_processed: %w", err)
	}
	return serverReading{
		commands:    map[string]commandStat{totalOnly: {calls: total - s.infoCalls}},
		connections: infoInt(info, "total_connections_received"),
	}, nil
}

// version returns the server's redis_version, or "" when it does not say.
func (s *serverStats) version(ctx context.Context) string {
	info, err := s.rdb.Info(ctx, "server").Result()
	if err != nil {
		return ""
	}
	return infoField(info, "redis_version")
}

// otherClients returns how many connected clients do not carry name, or
// -1 when the server cannot list its clients.
func (s *serverStats) otherClients(ctx context.Context, name string) int {
	list, err := s.rdb.ClientList(ctx).Result()
	if err != nil {
		return -1
	}
	n := 0
	for line := range strings.Lines(list) {
		if !strings.Contains(" "+line, " name="+name+" ") && strings.TrimSpace(line) != "" {
			n++
		}
	}
	return n
}

// parseCommandStats reads each command's counters from INFO commandstats
// lines such as "cmdstat_get:calls=2,usec=15,usec_per_call=7.50,...".
func parseCommandStats(info string) map[string]commandStat {
	stats := map[string]commandStat{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		name, fields, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		var st commandStat
		for f := range strings.SplitSeq(fields, ",") {
			k, v, _ := strings.Cut(f, "=")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			switch k {
			case "calls":
				st.calls = n
			case "usec":
				st.usec = n
			}
		}
		stats[strings.TrimPrefix(name, "cmdstat_")] = st
	}
	return stats
}

// redisCPU returns used_cpu_user + used_cpu_sys from INFO cpu.
func redisCPU(info string) (time.Duration, bool) {
	user, err1 := strconv.ParseFloat(infoField(info, "used_cpu_user"), 64)
	sys, err2 := strconv.ParseFloat(infoField(info, "used_cpu_sys"), 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration((user + sys) * float64(time.Second)), true
}

// infoField returns the value of "field:value" in an INFO reply, or "".
func infoField(info, field string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// infoInt returns an integer INFO field, or 0.
func infoInt(info, field string) int64 {
	n, _ := strconv.ParseInt(infoField(info, field), 10, 64)
	return n
}

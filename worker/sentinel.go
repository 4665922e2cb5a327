package worker

import (
	"context"
	"net"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// watchPrimary logs each switch of the Sentinel-managed primary, as the
// sentinels announce it on "+switch-master", until ctx is done. The Redis
// client follows the switch by itself; this is the operator's record of
// it. Every sentinel is listened to, so that one being down loses no
// line, and a switch is logged once however many sentinels announce it.
func watchPrimary(ctx context.Context, opt *redis.FailoverOptions, log *zap.Logger) {
	var (
		mu   sync.Mutex
		last string
		wg   sync.WaitGroup
	)
	for _, addr := range opt.SentinelAddrs {
		sc := redis.NewSentinelClient(&redis.Options{
			Addr:      addr,
			Username:  opt.SentinelUsername,
			Password:  opt.SentinelPassword,
			TLSConfig: opt.TLSConfig,
		})
		ps := sc.Subscribe(ctx, "+switch-master")
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer sc.Close()
			defer ps.Close()
			ch := ps.Channel()
			for {
				select {
				case <-ctx.Done():
					return
				case msg, ok := <-ch:
					if !ok {
						return
					}
					// "<master name> <old ip> <old port> <new ip> <new port>"
					f := strings.Fields(msg.Payload)
					if len(f) != 5 || f[0] != opt.MasterName {
						continue
					}
					from, to := net.JoinHostPort(f[1], f[2]), net.JoinHostPort(f[3], f[4])
					mu.Lock()
					fresh := to != last
					last = to
					mu.Unlock()
					if fresh {
						log.Warn("redis primary switched by sentinel failover; following it",
							zap.String("master_name", opt.MasterName), zap.String("from", from), zap.String("to", to))
					}
				}
			}
		}()
	}
	<-ctx.Done()
	wg.Wait()
}

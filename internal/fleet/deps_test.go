package fleet_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCommandsAndClientPackagesLinkNoWorker checks that the commands and
// the packages a service imports reach the fleet's state through this
// package and the public ones, without linking the worker's server, its
// HTTP API and event feed, the dashboard, the circuit breaker and rate
// limiter that only polls use, or the browser the dashboard test drives.
func TestCommandsAndClientPackagesLinkNoWorker(t *testing.T) {
	t.Parallel()
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	heavy := []string{
		"github.com/genwatch/genwatch/worker",
		"github.com/genwatch/genwatch/internal/api",
		"github.com/genwatch/genwatch/internal/feed",
		"github.com/genwatch/genwatch/internal/metrics",
		"github.com/hibiken/asynqmon",
		"github.com/genwatch/genwatch/internal/throttle/guard",
		"github.com/sony/gobreaker/v2",
		"github.com/go-redis/redis_rate/v10",
		"github.com/chromedp/chromedp",
	}
	for _, pkg := range []string{
		"github.com/genwatch/genwatch/cmd/genwatch",
		"github.com/genwatch/genwatch/cmd/enqueue",
		"github.com/genwatch/genwatch/control",
		"github.com/genwatch/genwatch",
	} {
		t.Run(pkg, func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(goTool, "list", "-deps", pkg).Output()
			require.NoError(t, err, "go list -deps %s", pkg)
			deps := strings.Fields(string(out))
			require.Contains(t, deps, pkg)
			for _, h := range heavy {
				require.False(t, slices.Contains(deps, h), "%s links %s", pkg, h)
			}
		})
	}
}

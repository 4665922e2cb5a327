package deploy_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// repoRoot is the genwatch repository, which holds this module.
const repoRoot = ".."

// binDir is where the image keeps the commands.
const binDir = "/usr/local/bin/"

// image is what the Dockerfile puts in the final image.
type image struct {
	// commands are the binaries in binDir, by name.
	commands map[string]bool
	// files maps a path in the image to the repository file copied there.
	files map[string]string
	// entrypoint and cmd are the final stage's.
	entrypoint, cmd []string
}

// readImage reads the Dockerfile: the go build of the build stage, the
// final stage's COPY lines, ENTRYPOINT and CMD. It knows the shape of this
// Dockerfile, not every Dockerfile.
func readImage(t *testing.T) image {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "Dockerfile"))
	require.NoError(t, err)
	defer f.Close()

	img := image{commands: map[string]bool{}, files: map[string]string{}}
	var built []string
	copiedBuild := false
	stages := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(line, "#") {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			stages++
		case "RUN":
			if i := indexOf(fields, "build"); i > 0 && strings.HasSuffix(fields[i-1], "go") {
				for _, arg := range fields[i+1:] {
					if strings.HasPrefix(arg, "./cmd/") {
						built = append(built, arg)
					}
				}
			}
		case "COPY":
			if len(fields) == 4 && fields[1] == "--from=build" && fields[3] == binDir {
				copiedBuild = true
			}
			if len(fields) == 3 {
				img.files[fields[2]] = fields[1]
			}
		case "ENTRYPOINT":
			require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(line[len(fields[0]):])), &img.entrypoint), line)
		case "CMD":
			require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(line[len(fields[0]):])), &img.cmd), line)
		}
	}
	require.NoError(t, sc.Err())
	require.Equal(t, 2, stages, "a build stage and the final image")
	require.True(t, copiedBuild, "the final stage copies the built commands to %s", binDir)

	for _, pkg := range built {
		if pkg == "./cmd/..." {
			for _, name := range commandDirs(t) {
				img.commands[name] = true
			}
			continue
		}
		img.commands[strings.TrimPrefix(pkg, "./cmd/")] = true
	}
	return img
}

// commandDirs lists the commands under cmd/.
func commandDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repoRoot, "cmd"))
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	require.NotEmpty(t, out)
	return out
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// configPath returns the --config argument of a command line.
func configPath(t *testing.T, args []string) string {
	t.Helper()
	i := indexOf(args, "--config")
	require.True(t, i >= 0 && i+1 < len(args), "no --config in %q", args)
	return args[i+1]
}

func TestImageHoldsEveryCommand(t *testing.T) {
	t.Parallel()
	img := readImage(t)
	for _, name := range commandDirs(t) {
		require.True(t, img.commands[name], "the image does not build cmd/%s", name)
	}
	require.Equal(t, []string{binDir + "worker"}, img.entrypoint)

	// The configuration the image runs with is a file of the repository.
	src, ok := img.files[configPath(t, img.cmd)]
	require.True(t, ok, "the image's --config %s is not copied in", configPath(t, img.cmd))
	_, err := os.Stat(filepath.Join(repoRoot, src))
	require.NoError(t, err)
}

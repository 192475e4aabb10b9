// Package framework starts real image-apiserver processes (and, where asked, a real etcd
// process) for integration tests, and gives clients for them.
package framework

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// repoRoot is the module root, found from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// ServerBinary returns the image-apiserver binary: $IMAGE_APISERVER_BIN when the Makefile
// built it, otherwise one built once for this test process.
func ServerBinary() (string, error) {
	if bin := os.Getenv("IMAGE_APISERVER_BIN"); bin != "" {
		return bin, nil
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "image-apiserver-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "image-apiserver")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/image-apiserver")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building image-apiserver: %v\n%s", err, out)
		}
	})
	return builtBin, buildErr
}

// RealBinary returns the path of a real component (etcd, kube-apiserver, kubectl) built by
// `make tools` into _output/bin, or $REAL_BINARIES_DIR.
func RealBinary(name string) (string, error) {
	dir := os.Getenv("REAL_BINARIES_DIR")
	if dir == "" {
		dir = filepath.Join(repoRoot(), "_output", "bin")
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s not found (run `make tools`): %w", path, err)
	}
	return path, nil
}

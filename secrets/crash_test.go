package secrets

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const (
	crashDirEnv  = "EXECVAULT_CRASH_DIR"
	crashSeedEnv = "EXECVAULT_CRASH_SEED"
	// crashScheduleEnv sets the seed of the kill schedule, to repeat a run.
	crashScheduleEnv = "EXECVAULT_CRASH_SCHEDULE"
	crashSecrets     = 12
	crashMaxSteps    = 100000
)

// crashValue is the value of version of a secret in the crash test, so the
// checker can compute what every version must contain.
func crashValue(name string, version uint64) string {
	return fmt.Sprintf("%s-v%d-%s", name, version, strings.Repeat("p", int(version%7)*100))
}

// TestCrashWriter is the child of TestCrashRecovery: it writes until it is
// killed and prints "name version" after every acknowledged write.
func TestCrashWriter(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashRecovery")
	}
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	rng := rand.New(rand.NewPCG(seed, 1))
	ctx := context.Background()
	cfg := testConfig(dir, nil)
	cfg.RotationBatchSize = 2
	cfg.MaxVersions = 3
	s, err := Open(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(3)
	}
	if _, err := s.CreateVault(ctx, "crash"); err != nil && !errors.Is(err, ErrVaultExists) {
		fmt.Fprintln(os.Stderr, "create vault:", err)
		os.Exit(3)
	}
	out := bufio.NewWriter(os.Stdout)
	for step := 0; step < crashMaxSteps; step++ {
		name := fmt.Sprintf("k%d", rng.IntN(crashSecrets))
		var version uint64
		info, err := s.GetSecret(ctx, "crash", name)
		switch {
		case errors.Is(err, ErrSecretNotFound):
			version = 1
			_, err = s.CreateSecret(ctx, "crash", name, NewValueString(crashValue(name, 1)))
		case err == nil:
			version = info.Version + 1
			_, err = s.UpdateSecret(ctx, "crash", name, NewValueString(crashValue(name, version)), UpdateOptions{IfVersion: info.Version})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			os.Exit(3)
		}
		fmt.Fprintf(out, "%s %d\n", name, version)
		out.Flush()
		if rng.IntN(15) == 0 {
			if _, err := s.RotateDataKey(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "rotate:", err)
				os.Exit(3)
			}
		}
	}
	os.Exit(0)
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns writer processes")
	}
	dir := filepath.Join(t.TempDir(), "data")
	acked := map[string]uint64{}
	seed := uint64(os.Getpid())
	if v, err := strconv.ParseUint(os.Getenv(crashScheduleEnv), 10, 64); err == nil {
		seed = v
	}
	t.Logf("crash schedule seed %d (set %s to repeat it)", seed, crashScheduleEnv)
	rng := rand.New(rand.NewPCG(seed, 2))

	for round := range 4 {
		target := 5 + rng.IntN(60)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, fmt.Sprintf("%s=%d", crashSeedEnv, rng.Uint64()))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}

		scanner := bufio.NewScanner(stdout)
		n := 0
		for n < target && scanner.Scan() {
			name, v, ok := strings.Cut(scanner.Text(), " ")
			version, err := strconv.ParseUint(v, 10, 64)
			if !ok || err != nil {
				continue // test framework output
			}
			acked[name] = max(acked[name], version)
			n++
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if n < target {
			t.Fatalf("round %d: writer stopped after %d acknowledged writes: %s", round, n, stderr.String())
		}

		checkCrashStore(t, dir, acked)
	}
}

// checkCrashStore opens the store after a kill and checks every
// acknowledged write and every kept version.
func checkCrashStore(t *testing.T, dir string, acked map[string]uint64) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, testConfig(dir, nil))
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()

	list, err := s.ListSecrets(ctx, "crash")
	if err != nil {
		t.Fatalf("list after kill: %v", err)
	}
	current := map[string]uint64{}
	for _, info := range list {
		current[info.Name] = info.Version
	}
	for name, version := range acked {
		if current[name] < version {
			t.Errorf("secret %s is at version %d after the kill, but version %d was acknowledged", name, current[name], version)
		}
	}
	for name := range current {
		versions, err := s.ListVersions(ctx, "crash", name)
		if err != nil {
			t.Fatalf("versions of %s: %v", name, err)
		}
		for _, v := range versions {
			_, value, err := s.RevealSecret(ctx, "crash", name, v.Version)
			if err != nil {
				t.Errorf("secret %s version %d unreadable after the kill: %v", name, v.Version, err)
				continue
			}
			if !value.Equal(NewValueString(crashValue(name, v.Version))) {
				t.Errorf("secret %s version %d holds another value after the kill (len %d)", name, v.Version, value.Len())
			}
		}
	}
	status, err := s.KeyStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[uint32]bool{}
	for _, k := range status.DataKeys {
		keys[k.ID] = true
	}
	counts, err := s.countValues()
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range counts {
		if !keys[id] {
			t.Errorf("%d values use data key %d, which the header lacks", n, id)
		}
	}
}

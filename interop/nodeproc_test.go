package interop

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
)

// nodeProc is a one-off node script of xmppjs/ that prints JSON events,
// one object of strings a line, on its standard output.
type nodeProc struct {
	events chan map[string]string // closed when the script's output ends
	stderr *lockedBuffer
}

// startNode runs xmppjs/script with args until the test ends.
func startNode(t *testing.T, script string, args ...string) *nodeProc {
	t.Helper()
	cmd := exec.Command("node", append([]string{script}, args...)...)
	cmd.Dir = filepath.Join(testDir(t), "xmppjs")
	p := &nodeProc{events: make(chan map[string]string, 16), stderr: &lockedBuffer{}}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	go func() {
		defer close(p.events)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var ev map[string]string
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				p.events <- ev
			}
		}
	}()
	return p
}

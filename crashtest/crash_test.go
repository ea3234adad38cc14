package crashtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage/postgres/pgtest"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

const (
	password = "crash-pw"
	sender   = "sender@localhost"
	// batch is how many messages the sender sends between two pings.
	batch = 25
	// killAfter is how many acknowledged messages the server must have
	// stored before it is killed.
	killAfter = 400
)

func TestKillDuringStormSQLite(t *testing.T) {
	runCrash(t, "")
}

func TestKillDuringStormPostgres(t *testing.T) {
	url := pgtest.Database(t)
	runCrash(t, fmt.Sprintf("storage: %q\n", url))
}

// runCrash runs the whole scenario with extra configuration lines.
func runCrash(t *testing.T, extraConfig string) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	// The storm's recipients: two offline accounts, and one online whose
	// messages are delivered live. Every account archives (MAM's default
	// is "always"), the sender included.
	recipients := [...]string{"rcpt1@localhost", "rcpt2@localhost", "live@localhost"}
	const online = 2 // index of the online recipient
	bin := buildParley(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "parley.yaml")
	conf := "listeners:\n  - {type: c2s, address: \"127.0.0.1:0\"}\n" +
		"limits:\n  offline_messages: 1000000\n  outbound_queue: 1000000\n" +
		"log:\n  level: warn\n" + extraConfig
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, u := range append([]string{sender}, recipients[:]...) {
		cmd := exec.Command(bin, "user", "add", "--config", cfg, "--data", data, u)
		cmd.Stdin = strings.NewReader(password + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("user add %s: %v\n%s", u, err, out)
		}
	}

	srv := startServer(t, bin, cfg, data, "first")
	snd := login(t, srv.addr, sender)
	live := login(t, srv.addr, recipients[online])
	if err := live.Send(context.Background(), stanza.New(stanza.NSClient, "presence")); err != nil {
		t.Fatalf("live recipient: presence: %v", err)
	}
	if _, err := live.SendIQ(context.Background(), stanza.NewIQ(stanza.TypeGet, "", "", stanza.New("urn:xmpp:ping", "ping"))); err != nil {
		t.Fatalf("live recipient: ping: %v", err)
	}

	// The storm: messages alternate between the recipients; after every
	// batch a ping whose reply acknowledges everything sent before it.
	var (
		acked   atomic.Int64 // messages 0..acked-1 are stored
		sent    atomic.Int64 // messages handed to the connection
		stormCh = make(chan error, 1)
	)
	go func() {
		ctx := context.Background()
		for i := 0; ; i++ {
			msg := stanza.NewMessage(stanza.TypeChat, recipients[i%len(recipients)], "m"+strconv.Itoa(i))
			msg.Set("id", "m"+strconv.Itoa(i))
			if err := snd.Send(ctx, msg); err != nil {
				stormCh <- err
				return
			}
			sent.Store(int64(i + 1))
			if (i+1)%batch == 0 {
				pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				_, err := snd.SendIQ(pctx, stanza.NewIQ(stanza.TypeGet, "", "", stanza.New("urn:xmpp:ping", "ping")))
				cancel()
				if err != nil {
					stormCh <- err
					return
				}
				acked.Store(int64(i + 1))
			}
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for acked.Load() < killAfter {
		if time.Now().After(deadline) {
			t.Fatalf("only %d messages acknowledged after 60s", acked.Load())
		}
		select {
		case err := <-stormCh:
			t.Fatalf("the storm stopped before the kill: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	// Kill at a random point of the next batch, with stanzas in flight.
	time.Sleep(time.Duration(rand.IntN(15)) * time.Millisecond)
	srv.kill(t)
	select {
	case err := <-stormCh:
		t.Logf("sender stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the sender did not notice the kill")
	}
	nAcked, nSent := int(acked.Load()), int(sent.Load())
	t.Logf("killed the server: %d messages acknowledged, %d sent", nAcked, nSent)
	if nSent <= nAcked {
		t.Logf("note: the kill fell right after a ping reply")
	}

	srv = startServer(t, bin, cfg, data, "second")
	defer srv.stop(t)
	n := len(recipients)
	// Every acknowledged message is in its recipient's archive and in the
	// sender's, exactly once; nothing that was never sent is.
	checkArchive(t, srv.addr, sender, nAcked, nSent, func(int) bool { return true })
	for r, rcpt := range recipients {
		checkArchive(t, srv.addr, rcpt, nAcked, nSent, func(i int) bool { return i%n == r })
	}
	for r, rcpt := range recipients {
		if r == online {
			continue // it got its messages live; its archive was checked
		}
		got := collect(t, srv.addr, rcpt)
		for i, times := range got {
			if times > 1 {
				t.Errorf("%s got message m%d %d times", rcpt, i, times)
			}
			if i%n != r || i >= nSent {
				t.Errorf("%s got message m%d, which was never sent to it", rcpt, i)
			}
		}
		missing := 0
		for i := r; i < nAcked; i += n {
			if got[i] == 0 {
				missing++
				if missing <= 10 {
					t.Errorf("%s never got acknowledged message m%d", rcpt, i)
				}
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d acknowledged messages missing", rcpt, missing)
		}
		unacked := 0
		for i := range got {
			if i >= nAcked {
				unacked++
			}
		}
		t.Logf("%s: %d messages received (%d sent after the last acknowledgement)", rcpt, len(got), unacked)
		// Delivered messages left storage: a new session gets none again.
		if again := collect(t, srv.addr, rcpt); len(again) != 0 {
			t.Errorf("%s: %d messages delivered a second time", rcpt, len(again))
		}
	}
}

// collect logs rcpt in, becomes available and returns how many times each
// message index arrived.
func collect(t *testing.T, addr, rcpt string) map[int]int {
	t.Helper()
	c := login(t, addr, rcpt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Send(ctx, stanza.New(stanza.NSClient, "presence")); err != nil {
		t.Fatalf("%s: presence: %v", rcpt, err)
	}
	// The ping reply comes after the offline messages flushed on the
	// initial presence; then wait until the stream stays quiet.
	if _, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "", stanza.New("urn:xmpp:ping", "ping"))); err != nil {
		t.Fatalf("%s: ping: %v", rcpt, err)
	}
	got := map[int]int{}
	for {
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := c.Recv(rctx)
		rcancel()
		if errors.Is(err, context.DeadlineExceeded) {
			if ctx.Err() != nil {
				t.Fatalf("%s: still receiving after 60s", rcpt)
			}
			return got
		}
		if err != nil {
			t.Fatalf("%s: receiving: %v", rcpt, err)
		}
		if st.Name.Local != "message" {
			continue
		}
		body := st.ChildText("", "body")
		i, err := strconv.Atoi(strings.TrimPrefix(body, "m"))
		if err != nil || !strings.HasPrefix(body, "m") {
			t.Fatalf("%s: unexpected message body %q", rcpt, body)
		}
		got[i]++
	}
}

// checkArchive pages through user's whole archive (XEP-0313 with RSM) and
// checks that each message mI with mine(I) and I < acked is there exactly
// once, and that nothing with I >= sent or !mine(I) is.
func checkArchive(t *testing.T, addr, user string, acked, sent int, mine func(int) bool) {
	t.Helper()
	c := login(t, addr, user)
	defer c.Close()
	const nsMAM, nsRSM, nsForward = "urn:xmpp:mam:2", "http://jabber.org/protocol/rsm", "urn:xmpp:forward:0"
	results := make(chan *stanza.Element, 1024)
	c.Handle(stanza.KindMessage, xml.Name{Space: nsMAM, Local: "result"}, func(m *stanza.Element) { results <- m })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got := map[int]int{}
	after := ""
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("%s: archive paging does not end", user)
		}
		set := stanza.New(nsRSM, "set").Append(stanza.New(nsRSM, "max").AppendText("100"))
		if after != "" {
			set.Append(stanza.New(nsRSM, "after").AppendText(after))
		}
		q := stanza.New(nsMAM, "query", "queryid", "q"+strconv.Itoa(page)).Append(set)
		res, err := c.SendIQ(ctx, stanza.NewIQ(stanza.TypeSet, "", "", q))
		if err != nil {
			t.Fatalf("%s: archive query: %v", user, err)
		}
		fin := res.Child(nsMAM, "fin")
		if fin == nil {
			t.Fatalf("%s: archive query answered without <fin/>: %s", user, res)
		}
		last := ""
		if set := fin.Child(nsRSM, "set"); set != nil {
			last = set.ChildText(nsRSM, "last")
		}
		// The results precede the IQ result on the stream, but handlers
		// run on their own goroutine: read them up to the page's last.
		for seen := ""; last != "" && seen != last; {
			select {
			case m := <-results:
				r := m.Child(nsMAM, "result")
				seen = r.Get("id")
				body := r.Child(nsForward, "forwarded").Child(stanza.NSClient, "message").ChildText(stanza.NSClient, "body")
				i, err := strconv.Atoi(strings.TrimPrefix(body, "m"))
				if err != nil || !strings.HasPrefix(body, "m") {
					t.Fatalf("%s: unexpected archived body %q", user, body)
				}
				got[i]++
			case <-ctx.Done():
				t.Fatalf("%s: the results of an archive page never all arrived", user)
			}
		}
		if fin.Get("complete") == "true" {
			break
		}
		if last == "" {
			t.Fatalf("%s: incomplete archive page without <last/>: %s", user, res)
		}
		after = last
	}
	missing := 0
	for i := 0; i < acked; i++ {
		if mine(i) && got[i] == 0 {
			missing++
			if missing <= 10 {
				t.Errorf("%s: acknowledged message m%d is not in the archive", user, i)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%s: %d acknowledged messages missing from the archive", user, missing)
	}
	for i, k := range got {
		if k > 1 {
			t.Errorf("%s: message m%d archived %d times", user, i, k)
		}
		if !mine(i) || i >= sent {
			t.Errorf("%s: message m%d archived but never sent to it", user, i)
		}
	}
	t.Logf("%s: %d messages in the archive (%d acknowledged)", user, len(got), acked)
}

// login dials the server as user.
func login(t *testing.T, addr, user string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{
		JID:      jid.MustParse(user),
		Password: password,
		Address:  addr,
		TLS:      &tls.Config{InsecureSkipVerify: true},
	})
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// buildParley builds cmd/parley into a temporary folder.
func buildParley(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "parley")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/parley-xmpp/parley/cmd/parley")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// server is a running `parley serve`.
type server struct {
	cmd  *exec.Cmd
	addr string
	log  string
	done chan error
}

// summaryAddr finds the STARTTLS listener in the summary line.
var summaryAddr = regexp.MustCompile(`(127\.0\.0\.1:\d+) \(STARTTLS\)`)

// startServer starts the server and waits for its summary line.
func startServer(t *testing.T, bin, cfg, data, name string) *server {
	t.Helper()
	logPath := filepath.Join(filepath.Dir(cfg), name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", "--config", cfg, "--data", data)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the server: %v", err)
	}
	s := &server{cmd: cmd, log: logPath, done: make(chan error, 1)}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
			}
		}
		if first {
			close(lines)
		}
		s.done <- cmd.Wait()
	}()
	select {
	case line, ok := <-lines:
		m := summaryAddr.FindStringSubmatch(line)
		if !ok || m == nil {
			_ = cmd.Process.Kill() // if it still runs
			<-s.done
			t.Fatalf("%s server: no summary line (got %q); log:\n%s", name, line, readLog(logPath))
		}
		s.addr = m[1]
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-s.done
		t.Fatalf("%s server did not start; log:\n%s", name, readLog(logPath))
	}
	return s
}

// kill sends SIGKILL and waits for the process to die.
func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the killed server did not exit")
	}
}

// stop asks the server to stop and checks that it exits cleanly.
func (s *server) stop(t *testing.T) {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("server exited with %v; log:\n%s", err, readLog(s.log))
		}
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Error("server did not stop on SIGTERM")
	}
}

func readLog(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

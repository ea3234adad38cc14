package tlsrec

import (
	"bufio"
	"crypto/tls"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// OpenSSL's s_client, another TLS implementation, against the record
// layer: each TLS 1.3 cipher suite, and KeyUpdate requests sent with its
// interactive "K" command.
func TestOpenSSLClient(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("PARLEY_INTEROP_REQUIRED") != "" {
			t.Fatal("openssl not found")
		}
		t.Skip("openssl not found")
	}
	lean := make(chan bool, 8)
	addr := serve(t, &tls.Config{Certificates: []tls.Certificate{testCert(t)}}, func(c *Conn, st tls.ConnectionState) {
		lean <- c.Lean()
		echo(c, st)
	})
	for _, cs := range []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"} {
		t.Run(cs, func(t *testing.T) {
			cmd := exec.Command(bin, "s_client", "-connect", addr, "-tls1_3", "-ciphersuites", cs, "-servername", "localhost")
			stdin, _ := cmd.StdinPipe()
			// One pipe for both: s_client reports a KeyUpdate on stderr.
			stdout, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdout, cmd.Stderr = w, w
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close()
			defer func() { stdin.Close(); _ = cmd.Wait() }()
			lines := make(chan string, 100)
			go func() {
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
			}()
			expect := func(want string) {
				t.Helper()
				timeout := time.After(10 * time.Second)
				for {
					select {
					case l, ok := <-lines:
						if !ok {
							t.Fatalf("s_client ended before %q", want)
						}
						if strings.Contains(l, want) {
							return
						}
					case <-timeout:
						t.Fatalf("no %q from s_client", want)
					}
				}
			}
			expect("Cipher is " + cs)
			_, _ = io.WriteString(stdin, "first line\n")
			expect("first line")
			for i := range 3 {
				// s_client takes a command from the first byte of what it
				// reads and discards the rest: wait for it to act.
				_, _ = io.WriteString(stdin, "K\n") // KeyUpdate, update_requested
				expect("KEYUPDATE")
				line := "after key update " + string(rune('a'+i))
				_, _ = io.WriteString(stdin, line+"\n")
				expect(line)
			}
			if !<-lean {
				t.Error("not taken over")
			}
		})
	}
}

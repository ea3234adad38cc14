package load

import (
	"fmt"
	"io"
	"time"
)

// Report is the outcome of one scenario run.
type Report struct {
	Scenario string `json:"scenario"`
	// Skipped explains why the scenario did not run (e.g. no MUC
	// service); the other fields are then zero.
	Skipped  string `json:"skipped,omitempty"`
	Sessions int    `json:"sessions"`

	Logins       int64   `json:"logins"`
	LoginErrors  int64   `json:"login_errors"`
	LoginSeconds float64 `json:"login_seconds"`
	LoginsPerSec float64 `json:"logins_per_sec"`
	LoginLatency Summary `json:"login_latency"`

	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
	Expected int64 `json:"expected"`
	Lost     int64 `json:"lost"`
	// Extra counts deliveries beyond those expected (duplicates).
	Extra      int64   `json:"extra,omitempty"`
	RunSeconds float64 `json:"run_seconds"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	Latency    Summary `json:"latency"`

	// RoomSize and Archive describe the MUC scenario's rooms; JoinSeconds
	// is how long the occupants took to enter them (from the first join
	// to the last occupant in, rooms configured).
	RoomSize    int     `json:"room_size,omitempty"`
	Archive     bool    `json:"archive,omitempty"`
	JoinSeconds float64 `json:"join_seconds,omitempty"`

	// CPU is the processor time the server (and Config.CPUPIDs) used
	// during the chat scenario's traffic; nil without Config.PID.
	CPU *CPU `json:"cpu,omitempty"`

	// ArchiveCheck is the chat scenario's check of the message archives
	// (Config.VerifyArchive); nil when not asked for.
	ArchiveCheck *ArchiveCheck `json:"archive_check,omitempty"`

	// LinkSetupSeconds is how long the s2s scenario's first message each
	// way took: the time to bring both servers' links up.
	LinkSetupSeconds float64 `json:"link_setup_seconds,omitempty"`

	// Links is the number of remote domains the s2s-links scenario
	// pinged, LinksUp how many answered (links up both ways) and
	// LinkErrors how many did not; its Latency is the time from a ping to
	// its answer (connection, TLS and dialback both ways) and
	// LinkSetupSeconds the time all links took. RSSPerLink and PSSPerLink
	// are the first server's growth per link up, MarginalRSSPerLink and
	// MarginalPSSPerLink that over the second half of the domains, and
	// PeerRSSPerLink the second server's growth per link.
	Links              int     `json:"links,omitempty"`
	LinksUp            int64   `json:"links_up,omitempty"`
	LinkErrors         int64   `json:"link_errors,omitempty"`
	RSSPerLink         float64 `json:"rss_per_link,omitempty"`
	PSSPerLink         float64 `json:"pss_per_link,omitempty"`
	MarginalRSSPerLink float64 `json:"marginal_rss_per_link,omitempty"`
	MarginalPSSPerLink float64 `json:"marginal_pss_per_link,omitempty"`
	PeerRSSPerLink     float64 `json:"peer_rss_per_link,omitempty"`

	// The storm scenario's first pass: its login rate, and how many
	// clients came out of it with a TLS session ticket and a FAST token;
	// Restarted says the server was restarted before the storm (taking
	// RestartSeconds). Resumed counts the storm's TLS handshakes that
	// resumed a session, FastLogins its logins with a FAST token.
	WarmLoginsPerSec float64 `json:"warm_logins_per_sec,omitempty"`
	Tickets          int     `json:"tickets,omitempty"`
	Tokens           int     `json:"tokens,omitempty"`
	Restarted        bool    `json:"restarted,omitempty"`
	RestartSeconds   float64 `json:"restart_seconds,omitempty"`
	Resumed          int64   `json:"resumed,omitempty"`
	FastLogins       int64   `json:"fast_logins,omitempty"`

	// SentBytes is the flood scenario's bytes sent. Bounced is its error
	// bounces received, and for chat, MUC and s2s the sends refused with
	// an error that carried the payload back: their deliveries are not
	// in Expected, so not in Lost either.
	SentBytes int64 `json:"sent_bytes,omitempty"`
	Bounced   int64 `json:"bounced,omitempty"`

	MemBefore *Mem `json:"mem_before,omitempty"`
	// MemPeak is the flood scenario's highest RSS sample.
	MemPeak *Mem `json:"mem_peak,omitempty"`
	// MemMid is read once the first half of the idle sessions settled.
	// The s2s scenario reads it once the sessions are logged in and the
	// links are up, before the traffic.
	MemMid        *Mem    `json:"mem_mid,omitempty"`
	MemAfter      *Mem    `json:"mem_after,omitempty"`
	RSSPerSession float64 `json:"rss_per_session"`
	PSSPerSession float64 `json:"pss_per_session"`
	// MarginalRSSPerSession and MarginalPSSPerSession are the growth from
	// MemMid to MemAfter per session of the second half: the cost of one
	// more session, without the one-time costs of the first.
	MarginalRSSPerSession float64 `json:"marginal_rss_per_session,omitempty"`
	MarginalPSSPerSession float64 `json:"marginal_pss_per_session,omitempty"`
	// PeerMemBefore, PeerMemMid and PeerMemAfter are the s2s scenario's
	// readings of the second server, at the same moments as MemBefore,
	// MemMid and MemAfter.
	PeerMemBefore *Mem `json:"peer_mem_before,omitempty"`
	PeerMemMid    *Mem `json:"peer_mem_mid,omitempty"`
	PeerMemAfter  *Mem `json:"peer_mem_after,omitempty"`
	// Disconnect and Reconnect are the idle scenario's storms, after
	// MemAfter: every session disconnecting at once, then every account
	// logging in again at once.
	Disconnect *Storm `json:"disconnect,omitempty"`
	Reconnect  *Storm `json:"reconnect,omitempty"`

	Errors     int64            `json:"errors"`
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"`
}

// Format writes the human-readable report.
func (r *Report) Format(w io.Writer) {
	fmt.Fprintf(w, "== %s ==\n", r.Scenario)
	if r.Skipped != "" {
		fmt.Fprintf(w, "skipped: %s\n", r.Skipped)
		return
	}
	fmt.Fprintf(w, "sessions      %d\n", r.Sessions)
	fmt.Fprintf(w, "logins        %d ok, %d failed in %.2fs: %.0f logins/s (%s)\n",
		r.Logins, r.LoginErrors, r.LoginSeconds, r.LoginsPerSec, r.LoginLatency)
	if r.Expected > 0 || r.Sent > 0 {
		fmt.Fprintf(w, "messages      %d sent, %d of %d expected deliveries received, %d lost, in %.2fs: %.0f deliveries/s\n",
			r.Sent, r.Received, r.Expected, r.Lost, r.RunSeconds, r.MsgsPerSec)
		if r.Bounced > 0 && r.Scenario != "flood" {
			fmt.Fprintf(w, "refused       %d messages bounced with an error (their deliveries are not expected)\n", r.Bounced)
		}
		if r.Extra > 0 {
			fmt.Fprintf(w, "duplicates    %d deliveries beyond those expected\n", r.Extra)
		}
		fmt.Fprintf(w, "latency       %s\n", r.Latency)
		if r.CPU != nil {
			fmt.Fprintf(w, "cpu           %s\n", r.CPU)
		}
	}
	if r.ArchiveCheck != nil {
		verdict := "every delivered message archived once in each archive"
		if !r.ArchiveCheck.OK() {
			verdict = "FAILED"
		}
		fmt.Fprintf(w, "archive       %s: %s\n", verdict, r.ArchiveCheck)
	}
	if r.RoomSize > 0 {
		archive := "temporary rooms, no archive"
		if r.Archive {
			archive = "persistent rooms with archiving"
		}
		fmt.Fprintf(w, "rooms         %d occupants each (%s), entered in %.2fs\n", r.RoomSize, archive, r.JoinSeconds)
	}
	switch {
	case r.Scenario == "storm":
		restart := "no restart"
		if r.Restarted {
			restart = fmt.Sprintf("server restarted in %.2fs", r.RestartSeconds)
		}
		fmt.Fprintf(w, "first pass    %.0f logins/s; %d tickets, %d FAST tokens kept; %s\n", r.WarmLoginsPerSec, r.Tickets, r.Tokens, restart)
		fmt.Fprintf(w, "storm         %d TLS sessions resumed, %d FAST logins, of %d\n", r.Resumed, r.FastLogins, r.Logins)
	case r.Scenario == "s2s":
		fmt.Fprintf(w, "links         up in %.3fs (the first message each way)\n", r.LinkSetupSeconds)
		formatMem(w, "server memory", r.MemBefore, r.MemMid, r.MemAfter)
		formatMem(w, "peer memory  ", r.PeerMemBefore, r.PeerMemMid, r.PeerMemAfter)
	case r.Scenario == "s2s-links":
		fmt.Fprintf(w, "links         %d of %d up in %.2fs, ping to answer %s\n", r.LinksUp, r.Links, r.LinkSetupSeconds, r.Latency)
		formatMemAt(w, "server memory", r.MemBefore, r.MemMid, r.MemAfter)
		formatMemAt(w, "peer memory  ", r.PeerMemBefore, r.PeerMemMid, r.PeerMemAfter)
		if r.MemBefore != nil {
			fmt.Fprintf(w, "per link      RSS %s, PSS %s; marginal (second half) RSS %s, PSS %s\n",
				kib(r.RSSPerLink), kib(r.PSSPerLink), kib(r.MarginalRSSPerLink), kib(r.MarginalPSSPerLink))
		}
		if r.PeerMemBefore != nil {
			fmt.Fprintf(w, "peer per link RSS %s\n", kib(r.PeerRSSPerLink))
		}
	case r.Scenario == "flood":
		fmt.Fprintf(w, "flood         %d messages (%s) sent in %.2fs, %d bounced\n", r.Sent, kib(float64(r.SentBytes)), r.RunSeconds, r.Bounced)
		if r.MemBefore != nil && r.MemPeak != nil && r.MemAfter != nil {
			fmt.Fprintf(w, "server memory RSS %s before, %s at the peak (+%s), %s at the end (+%s)\n",
				kib(float64(r.MemBefore.RSS)), kib(float64(r.MemPeak.RSS)), kib(float64(r.MemPeak.RSS)-float64(r.MemBefore.RSS)),
				kib(float64(r.MemAfter.RSS)), kib(float64(r.MemAfter.RSS)-float64(r.MemBefore.RSS)))
		}
	case r.MemBefore != nil && r.MemAfter != nil:
		fmt.Fprintf(w, "server memory RSS %s -> %s, PSS %s -> %s\n",
			kib(float64(r.MemBefore.RSS)), kib(float64(r.MemAfter.RSS)), kib(float64(r.MemBefore.PSS)), kib(float64(r.MemAfter.PSS)))
		fmt.Fprintf(w, "per session   RSS %s, PSS %s\n", kib(r.RSSPerSession), kib(r.PSSPerSession))
		if r.MemMid != nil {
			fmt.Fprintf(w, "marginal      RSS %s, PSS %s per session of the second half\n", kib(r.MarginalRSSPerSession), kib(r.MarginalPSSPerSession))
		}
	}
	formatStorm(w, "disconnect   ", r.Disconnect)
	formatStorm(w, "reconnect    ", r.Reconnect)
	fmt.Fprintf(w, "errors        %d\n", r.Errors)
	for _, k := range sortedKinds(r.ErrorKinds) {
		fmt.Fprintf(w, "  %6d  %s\n", r.ErrorKinds[k], k)
	}
}

// formatMem writes one server's RSS readings of the s2s scenario.
func formatMem(w io.Writer, title string, before, mid, after *Mem) {
	if before == nil || mid == nil || after == nil {
		return
	}
	fmt.Fprintf(w, "%s RSS %s before the logins, %s with the sessions and links up (%s), %s after the traffic (%s over the run)\n",
		title, kib(float64(before.RSS)), kib(float64(mid.RSS)), signedKiB(float64(mid.RSS)-float64(before.RSS)),
		kib(float64(after.RSS)), signedKiB(float64(after.RSS)-float64(before.RSS)))
}

// formatMemAt writes one server's RSS readings of the s2s-links
// scenario: before, with half the links up and with all of them.
func formatMemAt(w io.Writer, title string, before, mid, after *Mem) {
	if before == nil || mid == nil || after == nil {
		return
	}
	fmt.Fprintf(w, "%s RSS %s before, %s with half the links up (%s), %s with all (%s)\n",
		title, kib(float64(before.RSS)), kib(float64(mid.RSS)), signedKiB(float64(mid.RSS)-float64(before.RSS)),
		kib(float64(after.RSS)), signedKiB(float64(after.RSS)-float64(before.RSS)))
}

// signedKiB formats a change of size with its sign.
func signedKiB(b float64) string {
	if b >= 0 {
		return "+" + kib(b)
	}
	return kib(b)
}

// kib formats a byte count in KiB (or MiB above 10 MiB).
func kib(b float64) string {
	if b >= 10<<20 || b <= -10<<20 {
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", b/1024)
}

// perSecond returns n/d in events per second (0 for an empty interval).
func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// memPerSession returns (after-before)/n for RSS and PSS, in bytes.
func memPerSession(before, after Mem, n int) (rss, pss float64) {
	if n <= 0 {
		return 0, 0
	}
	return (float64(after.RSS) - float64(before.RSS)) / float64(n), (float64(after.PSS) - float64(before.PSS)) / float64(n)
}

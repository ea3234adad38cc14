package transfer

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/mam"
	xpubsub "github.com/parley-xmpp/parley/xmpp/pubsub"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// ImportOptions configures Import.
type ImportOptions struct {
	// Force replaces accounts, pubsub services, invitations and rooms
	// that exist in the target; without it the import reads the whole
	// dump, imports nothing and returns a *ConflictError naming them.
	Force bool
	// Hashes are the SCRAM hashes plaintext passwords are converted to;
	// empty means SHA-1 and SHA-256.
	Hashes []sasl.Hash
	// Iterations is the PBKDF2 iteration count for converted passwords;
	// 0 means 4096.
	Iterations int
	// Now is the clock giving the time of data without one; nil means
	// time.Now.
	Now func() time.Time
	// Log receives warnings about skipped data; nil discards them.
	Log *slog.Logger
}

// maxIncludeDepth bounds XInclude nesting (main file, host file, user
// file, and one more for good measure).
const maxIncludeDepth = 4

// maxListedConflicts bounds the records a ConflictError names.
const maxListedConflicts = 20

// ConflictError reports the records of a dump that already exist in the
// target: accounts, pubsub services, invitations, rooms. When Import
// returns it, nothing was imported. It wraps storage.ErrExists.
type ConflictError struct {
	// Records names the first conflicting records (at most 20), in the
	// order of the dump, e.g. "account alice@example.org".
	Records []string
	// Total counts them all.
	Total int
}

func (e *ConflictError) Error() string {
	s := fmt.Sprintf("%d records already exist: %s", e.Total, strings.Join(e.Records, ", "))
	if more := e.Total - len(e.Records); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s + " (force replaces them)"
}

// Unwrap returns storage.ErrExists.
func (e *ConflictError) Unwrap() error { return storage.ErrExists }

// importer holds the state of one import.
type importer struct {
	ctx  context.Context
	s    storage.Stores
	opts ImportOptions
	log  *slog.Logger
	st   Stats

	conflicts      []string // the first maxListedConflicts
	totalConflicts int
}

// conflict records a record of the dump that exists in the target.
func (im *importer) conflict(what string) {
	im.totalConflicts++
	if len(im.conflicts) < maxListedConflicts {
		im.conflicts = append(im.conflicts, what)
	}
}

// conflictErr returns the conflicts met, or nil.
func (im *importer) conflictErr() error {
	if im.totalConflicts == 0 {
		return nil
	}
	return &ConflictError{Records: im.conflicts, Total: im.totalConflicts}
}

// inTx runs an import in one transaction of the backend: all of it is
// stored, or nothing.
func inTx(ctx context.Context, s storage.Stores, opts ImportOptions, fn func(im *importer) error) (Stats, error) {
	tr, ok := s.Accounts.(storage.Transactor)
	if !ok {
		return Stats{}, fmt.Errorf("the backend %T cannot import in one transaction", s.Accounts)
	}
	var st Stats
	err := tr.InTx(ctx, func(tx storage.Stores) error {
		im := newImporter(ctx, tx, opts)
		if err := fn(im); err != nil {
			return err
		}
		st = im.st
		return im.conflictErr()
	})
	if err != nil {
		return Stats{}, err
	}
	return st, nil
}

// ImportFile imports the XEP-0227 document at path, following its
// XInclude elements relative to its folder, in one transaction: on any
// error nothing is imported.
func ImportFile(ctx context.Context, s storage.Stores, path string, opts ImportOptions) (Stats, error) {
	return inTx(ctx, s, opts, func(im *importer) error { return im.file(path, "", 0) })
}

// ImportPath imports a XEP-0227 file or, for a folder, every *.xml file
// directly in it whose root is <server-data/>, in name order: the layout
// of Prosody's xep0227 store (one file per account) as well as
// ejabberd's export folders (whose host and user files are reached
// through the main file's XInclude elements). It is one transaction: on
// any error nothing is imported.
func ImportPath(ctx context.Context, s storage.Stores, path string, opts ImportOptions) (Stats, error) {
	st, err := ImportPaths(ctx, s, []string{path}, opts)
	if err != nil {
		return Stats{}, err
	}
	return st[0], nil
}

// ImportPaths imports every path as ImportPath does, all in one
// transaction: on any error, in any of them, nothing is imported. It
// returns the counts of each path.
func ImportPaths(ctx context.Context, s storage.Stores, paths []string, opts ImportOptions) ([]Stats, error) {
	var out []Stats
	_, err := inTx(ctx, s, opts, func(im *importer) error {
		out = out[:0]
		for _, p := range paths {
			im.st = Stats{}
			if err := im.path(p); err != nil {
				return err
			}
			out = append(out, im.st)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// path imports a file or a folder of files (see ImportPath).
func (im *importer) path(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("opening the dump: %w", err)
	}
	if !fi.IsDir() {
		return im.file(path, "", 0)
	}
	names, err := filepath.Glob(filepath.Join(path, "*.xml"))
	if err != nil {
		return fmt.Errorf("listing %s: %w", path, err)
	}
	found := false
	for _, name := range names {
		root, err := rootName(name)
		if err != nil || !isPIE(root, "server-data") {
			continue
		}
		found = true
		if err := im.file(name, "", 0); err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("%s holds no XEP-0227 <server-data/> file", path)
	}
	return nil
}

// rootName returns the name of the root element of an XML file.
func rootName(path string) (xml.Name, error) {
	f, err := os.Open(path)
	if err != nil {
		return xml.Name{}, err
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	for {
		tok, err := dec.Token()
		if err != nil {
			return xml.Name{}, err
		}
		if st, ok := tok.(xml.StartElement); ok {
			return st.Name, nil
		}
	}
}

// Import imports a XEP-0227 document read from r; dir is the folder
// relative XInclude references are resolved against. It is one
// transaction: on any error nothing is imported.
func Import(ctx context.Context, s storage.Stores, r io.Reader, dir string, opts ImportOptions) (Stats, error) {
	return inTx(ctx, s, opts, func(im *importer) error { return im.doc(r, dir, "", 0) })
}

func newImporter(ctx context.Context, s storage.Stores, opts ImportOptions) *importer {
	if len(opts.Hashes) == 0 {
		opts.Hashes = []sasl.Hash{sasl.SHA1, sasl.SHA256}
	}
	if opts.Iterations <= 0 {
		opts.Iterations = 4096
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &importer{ctx: ctx, s: s, opts: opts, log: log}
}

func (im *importer) file(path, host string, depth int) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("%s: XInclude nested more than %d deep", path, maxIncludeDepth)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening the dump: %w", err)
	}
	defer f.Close()
	if err := im.doc(f, filepath.Dir(path), host, depth); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// doc reads one document whose root is <server-data/>, <host/> (when
// included from a <server-data/>) or <user/> (included from a <host/>).
func (im *importer) doc(r io.Reader, dir, host string, depth int) error {
	dec := xml.NewDecoder(r)
	for {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("no root element: %w", err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch {
		case isPIE(start.Name, "server-data"):
			return im.children(dec, func(c xml.StartElement) error { return im.serverChild(dec, c, dir, depth) })
		case isPIE(start.Name, "host"):
			return im.host(dec, start, dir, depth)
		case isPIE(start.Name, "user") && host != "":
			return im.user(dec, start, host)
		}
		return fmt.Errorf("root element <%s xmlns=%q/> is not a XEP-0227 document", start.Name.Local, start.Name.Space)
	}
}

// children calls fn for each child element of the element just opened,
// until its end.
func (im *importer) children(dec *xml.Decoder, fn func(xml.StartElement) error) error {
	for {
		if err := im.ctx.Err(); err != nil {
			return err
		}
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("reading: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := fn(t); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

// include follows an XInclude element (a child of <server-data/> or
// <host/>; XEP-0227 §5).
func (im *importer) include(dec *xml.Decoder, start xml.StartElement, dir, host string, depth int) error {
	href := attr(start, "href")
	if err := dec.Skip(); err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	if href == "" || attr(start, "parse") != "" || attr(start, "xpointer") != "" || strings.Contains(href, "://") {
		im.skipped("unsupported XInclude", "href", href)
		return nil
	}
	return im.file(filepath.Join(dir, filepath.FromSlash(href)), host, depth+1)
}

func (im *importer) serverChild(dec *xml.Decoder, c xml.StartElement, dir string, depth int) error {
	switch {
	case isPIE(c.Name, "host"):
		return im.host(dec, c, dir, depth)
	case c.Name.Space == nsXInclude && c.Name.Local == "include":
		return im.include(dec, c, dir, "", depth)
	case c.Name.Space == NS && c.Name.Local == "pubsub-service":
		el, err := readElement(dec, c)
		if err != nil {
			return err
		}
		return im.service(el)
	case c.Name.Space == NS && c.Name.Local == "muc-room":
		el, err := readElement(dec, c)
		if err != nil {
			return err
		}
		return im.importRoom(el)
	case c.Name.Space == NS && c.Name.Local == "invite":
		el, err := readElement(dec, c)
		if err != nil {
			return err
		}
		inv, err := parseInvite(el)
		if err != nil {
			im.skipped(err.Error())
			return nil
		}
		if _, err := im.s.Invites.Invite(im.ctx, inv.Token); err == nil && !im.opts.Force {
			// Never name the token: it is a secret.
			im.conflict("an invitation to " + inv.Domain)
			return nil
		}
		if im.totalConflicts > 0 {
			return nil
		}
		if err := putInvite(im.ctx, im.s, inv); err != nil {
			return err
		}
		im.st.Invites++
		return nil
	}
	im.skipped("unknown element", "element", c.Name.Local, "ns", c.Name.Space)
	return skip(dec)
}

func (im *importer) host(dec *xml.Decoder, start xml.StartElement, dir string, depth int) error {
	host := attr(start, "jid")
	d, err := jid.Parse(host)
	if err != nil || d.Local() != "" || d.Resource() != "" {
		return fmt.Errorf("<host jid=%q/>: not a domain", host)
	}
	host = d.Domain()
	return im.children(dec, func(c xml.StartElement) error {
		switch {
		case isPIE(c.Name, "user"):
			return im.user(dec, c, host)
		case c.Name.Space == nsXInclude && c.Name.Local == "include":
			return im.include(dec, c, dir, host, depth)
		}
		im.skipped("unknown element", "element", c.Name.Local, "ns", c.Name.Space, "host", host)
		return skip(dec)
	})
}

func (im *importer) service(el *stanza.Element) error {
	j, err := jid.Parse(el.Get("jid"))
	if err != nil {
		im.skipped("pubsub service with a bad JID", "jid", el.Get("jid"))
		return nil
	}
	ns := newNodeSet(j, im.opts.Now())
	for _, c := range el.Elements() {
		var bad []error
		switch {
		case c.Name.Space == xpubsub.NSOwner && c.Name.Local == "pubsub":
			bad = ns.owner(c)
		case c.Name.Space == xpubsub.NS && c.Name.Local == "pubsub":
			bad = ns.items(c, jid.JID{})
		default:
			bad = []error{fmt.Errorf("unknown element <%s/>", c.Name.Local)}
		}
		im.bad(j, bad)
	}
	old, err := im.s.PubSub.PubSubNodes(im.ctx, j)
	if err != nil {
		return fmt.Errorf("pubsub service %s: %w", j, err)
	}
	if len(old) > 0 && !im.opts.Force {
		im.conflict("pubsub service " + j.String())
		return nil
	}
	if im.totalConflicts > 0 {
		return nil
	}
	if _, err := DeleteService(im.ctx, im.s, j); err != nil {
		return err
	}
	svc := &Service{JID: j, Nodes: ns.nodes()}
	if err := WriteService(im.ctx, im.s, svc); err != nil {
		return fmt.Errorf("pubsub service %s: %w", j, err)
	}
	im.st.Services++
	im.st.ServiceNodes += len(svc.Nodes)
	return nil
}

// user imports one <user/>: the account is created at once (so that its
// archive can be appended while it streams in), its other data is
// collected and written at the end of the element.
func (im *importer) user(dec *xml.Decoder, start xml.StartElement, host string) error {
	name := attr(start, "name")
	u, err := jid.New(name, host, "")
	if err != nil || name == "" {
		return fmt.Errorf("<user name=%q/> on %s: not a valid account", name, host)
	}
	exists, err := im.s.Accounts.AccountExists(im.ctx, u)
	if err != nil {
		return fmt.Errorf("account %s: %w", u, err)
	}
	if exists {
		if !im.opts.Force {
			im.conflict("account " + u.String())
			return skip(dec)
		}
		if err := im.s.Accounts.DeleteAccount(im.ctx, u); err != nil {
			return fmt.Errorf("replacing %s: %w", u, err)
		}
		im.st.Replaced++
	}
	if im.totalConflicts > 0 {
		// The import will fail: only look for more conflicts.
		return skip(dec)
	}
	if err := im.s.Accounts.CreateAccount(im.ctx, u, nil); err != nil {
		return fmt.Errorf("creating %s: %w", u, err)
	}
	now := im.opts.Now()
	a := &Account{User: u, Private: map[string][]byte{}}
	pep := newNodeSet(u, now)
	archived := 0
	err = im.children(dec, func(c xml.StartElement) error {
		if c.Name.Space == NSMAM && c.Name.Local == "archive" {
			n, err := im.archive(dec, u)
			archived += n
			return err
		}
		el, err := readElement(dec, c)
		if err != nil {
			return err
		}
		im.userChild(el, a, pep, now)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	a.PEP = pep.nodes()
	if len(a.Keys) == 0 {
		if pw := attr(start, "password"); pw != "" {
			if a.Keys, err = im.deriveKeys(pw); err != nil {
				return fmt.Errorf("%s: %w", u, err)
			}
			im.st.PlaintextPasswords++
		} else {
			im.st.NoCredentials++
			im.log.WarnContext(im.ctx, "import: account without credentials", "user", u.String())
		}
	}
	if err := WriteAccountData(im.ctx, im.s, a); err != nil {
		return fmt.Errorf("writing %s: %w", u, err)
	}
	im.st.count(a)
	im.st.Archived += archived
	return nil
}

// userChild reads one child element of <user/> into a.
func (im *importer) userChild(el *stanza.Element, a *Account, pep *nodeSet, now time.Time) {
	u := a.User
	ns, local := el.Name.Space, el.Name.Local
	switch {
	case ns == NSSCRAM && local == "scram-credentials":
		k, err := parseSCRAM(el)
		if err != nil {
			im.bad(u, []error{err})
			return
		}
		for i, old := range a.Keys {
			if old.Hash == k.Hash {
				a.Keys = append(a.Keys[:i], a.Keys[i+1:]...)
				break
			}
		}
		a.Keys = append(a.Keys, k)
	case ns == nsRoster && local == "query":
		items, ver, bad := parseRoster(el, u)
		a.Roster, a.RosterVersion = append(a.Roster, items...), max(a.RosterVersion, ver)
		im.bad(u, bad)
	case local == "presence" && (ns == stanza.NSClient || ns == NSPIE || ns == NSOldPIE):
		if el.Type() != "subscribe" {
			im.skipped("presence that is not a subscription request", "user", u.String())
			return
		}
		req, err := parseRequest(el, u, now)
		if err != nil {
			im.bad(u, []error{err})
			return
		}
		a.Requests = append(a.Requests, req)
	case local == "offline-messages" && (ns == NSPIE || ns == NSOldPIE):
		for _, m := range el.Elements() {
			if m.Name.Local != "message" {
				im.skipped("offline element that is not a message", "user", u.String(), "element", m.Name.Local)
				continue
			}
			a.Offline = append(a.Offline, parseOffline(m, u, now))
		}
	case ns == nsVCard && local == "vCard":
		if len(el.Elements()) > 0 {
			a.VCard = el.AppendXML(nil, "")
		}
	case ns == nsPrivate && local == "query":
		for _, c := range el.Elements() {
			a.Private[c.Name.Space+" "+c.Name.Local] = c.AppendXML(nil, "")
		}
	case ns == nsBlocking && local == "blocklist":
		for _, it := range el.ChildrenNamed(nsBlocking, "item") {
			j, err := jid.Parse(it.Get("jid"))
			if err != nil {
				im.bad(u, []error{fmt.Errorf("blocked JID %q: %w", it.Get("jid"), err)})
				continue
			}
			a.Blocked = append(a.Blocked, j)
		}
	case ns == mam.NS && local == "prefs":
		p, err := mam.ParsePrefs(el)
		if err != nil {
			im.bad(u, []error{fmt.Errorf("archive preferences: %w", err)})
			return
		}
		a.ArchivePrefs = &storage.ArchivePrefs{Default: p.Default, Always: p.Always, Never: p.Never}
	case ns == xpubsub.NSOwner && local == "pubsub":
		im.bad(u, pep.owner(el))
	case ns == xpubsub.NS && local == "pubsub":
		im.bad(u, pep.items(el, u))
	case ns == NS && local == "account":
		im.bad(u, parseAccountElement(el, a))
	default:
		im.skipped("unknown element", "user", u.String(), "element", local, "ns", ns)
	}
}

// archive streams the results of an <archive/> into u's archive.
func (im *importer) archive(dec *xml.Decoder, u jid.JID) (int, error) {
	n := 0
	err := im.children(dec, func(c xml.StartElement) error {
		el, err := readElement(dec, c)
		if err != nil {
			return err
		}
		if c.Name.Space != mam.NS || c.Name.Local != "result" {
			im.skipped("unknown element in the archive", "user", u.String(), "element", c.Name.Local)
			return nil
		}
		m, err := parseResult(el, u)
		if err != nil {
			im.bad(u, []error{err})
			return nil
		}
		switch err := im.s.Archive.AppendArchive(im.ctx, u, m); {
		case errors.Is(err, storage.ErrExists):
			im.skipped("archived message with a duplicate id", "user", u.String(), "id", m.ID)
		case err != nil:
			return fmt.Errorf("archived message %s: %w", m.ID, err)
		default:
			n++
		}
		return nil
	})
	return n, err
}

// deriveKeys turns a plaintext password into SCRAM keys.
func (im *importer) deriveKeys(password string) ([]storage.SCRAMKey, error) {
	keys := make([]storage.SCRAMKey, 0, len(im.opts.Hashes))
	for _, h := range im.opts.Hashes {
		c, err := sasl.NewCredentials(h, password, im.opts.Iterations)
		if err != nil {
			return nil, fmt.Errorf("deriving %s credentials: %w", h, err)
		}
		keys = append(keys, storage.SCRAMKey{Hash: h.Name(), Salt: c.Salt, Iterations: c.Iterations,
			StoredKey: c.StoredKey, ServerKey: c.ServerKey})
	}
	return keys, nil
}

// skipped records a skipped element.
func (im *importer) skipped(msg string, args ...any) {
	im.st.SkippedElements++
	im.log.WarnContext(im.ctx, "import: skipped "+msg, args...)
}

// bad records data that could not be imported.
func (im *importer) bad(who jid.JID, errs []error) {
	for _, err := range errs {
		im.skipped("invalid data", "jid", who.String(), "err", err)
	}
}

// attr returns the value of the unqualified attribute local of start.
func attr(start xml.StartElement, local string) string {
	for _, a := range start.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

func skip(dec *xml.Decoder) error {
	if err := dec.Skip(); err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	return nil
}

// readElement reads the element start opened into a tree; namespace
// declarations are resolved and dropped, as the stream decoder does.
func readElement(dec *xml.Decoder, start xml.StartElement) (*stanza.Element, error) {
	el := &stanza.Element{Name: start.Name}
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		el.Attr = append(el.Attr, stanza.Attr{Name: a.Name, Value: a.Value})
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("reading <%s/>: %w", start.Name.Local, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			c, err := readElement(dec, t)
			if err != nil {
				return nil, err
			}
			el.Children = append(el.Children, stanza.Node{Elem: c})
		case xml.CharData:
			if n := len(el.Children); n > 0 && el.Children[n-1].Elem == nil {
				el.Children[n-1].Text += string(t)
			} else {
				el.Children = append(el.Children, stanza.Node{Text: string(t)})
			}
		case xml.EndElement:
			return el, nil
		}
	}
}

package stream

// PendingData reports whether bytes other than XML whitespace were read
// from the underlying reader past the last element returned. Whitespace
// (a keepalive, or the newline some clients send after <starttls/>) does
// not count.
func (d *Decoder) PendingData() bool {
	for _, c := range d.buf[d.pos:d.end] {
		if !isSpace(c) {
			return true
		}
	}
	return false
}

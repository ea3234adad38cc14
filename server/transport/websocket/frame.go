package websocket

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// Frame opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// Close status codes (RFC 6455 §7.4.1).
const (
	statusNormal          = 1000
	statusProtocolError   = 1002
	statusMessageTooBig   = 1009
	statusInternalProblem = 1011
)

// acceptGUID is the key suffix of Sec-WebSocket-Accept (RFC 6455 §1.3).
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptKey is the Sec-WebSocket-Accept value answering key.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// frame is one client frame, its payload unmasked in place.
type frame struct {
	fin     bool
	op      byte
	payload []byte
}

// errProtocol is a frame that breaks RFC 6455: the connection fails with
// status 1002.
var errProtocol = errors.New("websocket: protocol error")

// errTooBig: a frame or message over the read limit (status 1009).
var errTooBig = errors.New("websocket: message too large")

// parseFrame parses the frame at the start of b: its length in bytes, 0
// when b holds only part of it. Client frames must be masked and carry no
// extension bits (none is negotiated); control frames fit in 125 bytes
// and are not fragmented. A frame longer than limit is errTooBig.
func parseFrame(b []byte, limit int) (f frame, n int, err error) {
	if len(b) < 2 {
		return frame{}, 0, nil
	}
	f.fin = b[0]&0x80 != 0
	f.op = b[0] & 0x0f
	if b[0]&0x70 != 0 {
		return frame{}, 0, fmt.Errorf("%w: reserved bits set", errProtocol)
	}
	if b[1]&0x80 == 0 {
		return frame{}, 0, fmt.Errorf("%w: unmasked client frame", errProtocol)
	}
	hdr, size := 2, uint64(b[1]&0x7f)
	switch size {
	case 126:
		if len(b) < 4 {
			return frame{}, 0, nil
		}
		hdr, size = 4, uint64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		if len(b) < 10 {
			return frame{}, 0, nil
		}
		hdr, size = 10, binary.BigEndian.Uint64(b[2:])
	}
	switch f.op {
	case opClose, opPing, opPong:
		if size > 125 || !f.fin {
			return frame{}, 0, fmt.Errorf("%w: bad control frame", errProtocol)
		}
	case opContinuation, opText, opBinary:
	default:
		return frame{}, 0, fmt.Errorf("%w: opcode %#x", errProtocol, f.op)
	}
	if size > uint64(limit) {
		return frame{}, 0, errTooBig
	}
	total := hdr + 4 + int(size)
	if len(b) < total {
		return frame{}, 0, nil
	}
	mask := b[hdr : hdr+4]
	f.payload = b[hdr+4 : total]
	for i := range f.payload {
		f.payload[i] ^= mask[i&3]
	}
	return f, total, nil
}

// appendFrame appends an unmasked server frame (RFC 6455 §5.2).
func appendFrame(buf []byte, op byte, payload []byte) []byte {
	buf = append(buf, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		buf = append(buf, byte(n))
	case n <= 0xffff:
		buf = append(buf, 126)
		buf = binary.BigEndian.AppendUint16(buf, uint16(n))
	default:
		buf = append(buf, 127)
		buf = binary.BigEndian.AppendUint64(buf, uint64(n))
	}
	return append(buf, payload...)
}

// closePayload is a close frame's body: the status code.
func closePayload(status uint16) []byte {
	return binary.BigEndian.AppendUint16(nil, status)
}

// readChunk is the size of the read buffers: a stream waiting for its
// next frame holds one until it parks, so it is small (most stanzas fit);
// a larger frame grows its buffer up to the read limit. Parley's TLS
// layer keeps the rest of a record for the next read.
const readChunk = 512

// readBufs pools the read buffers: a connection holds one only while a
// frame is arriving.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, readChunk); return &b }}

package muc

import (
	"context"
	"fmt"
	"sort"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// RoomInfo describes one room for administrators.
type RoomInfo struct {
	// JID is the room's bare JID.
	JID jid.JID
	// Name is the room's configured name, possibly empty.
	Name string
	// Occupants is the number of occupants (nicknames) now in the room;
	// 0 for a persistent room not loaded in memory.
	Occupants int
	// Persistent reports whether the room outlives its last occupant.
	Persistent bool
	// Public reports whether the room is listed in service discovery.
	Public bool
}

// Rooms lists every room of every service, live and stored (persistent
// rooms not in memory have no occupants), sorted by JID. It is for
// administration: private rooms are included.
func (m *Module) Rooms(ctx context.Context) ([]RoomInfo, error) {
	var stored []RoomInfo
	if m.store != nil {
		rows, err := m.store.MUCRooms(ctx, "")
		if err != nil {
			return nil, fmt.Errorf("muc: listing the rooms: %w", err)
		}
		for _, s := range rows {
			c := m.configFromValues(s.Config)
			stored = append(stored, RoomInfo{JID: s.JID, Name: c.Name, Persistent: c.Persistent, Public: c.Public})
		}
	}
	m.mu.Lock()
	live := make([]*room, 0, len(m.rooms))
	for _, rm := range m.rooms {
		live = append(live, rm)
	}
	m.mu.Unlock()
	seen := make(map[jid.JID]bool)
	out := []RoomInfo{}
	for _, rm := range live {
		rm.mu.Lock()
		if !rm.closed {
			seen[rm.jid] = true
			out = append(out, RoomInfo{JID: rm.jid, Name: rm.cfg.Name, Occupants: len(rm.occ), Persistent: rm.cfg.Persistent, Public: rm.cfg.Public})
		}
		rm.mu.Unlock()
	}
	for _, s := range stored {
		if !seen[s.JID] {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].JID.String() < out[k].JID.String() })
	return out, nil
}

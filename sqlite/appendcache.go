package sqlite

import (
	sqlitedriver "modernc.org/sqlite"
	sqlitelib "modernc.org/sqlite/lib"
)

// maxAppendStates bounds the contacts the writer remembers (appendCache);
// past it, an arbitrary one is forgotten for each new one.
const maxAppendStates = 8192

// appendState is what the writer remembers of a contact it appended to,
// so that the next AppendItem needs no read: the contact's state and owner,
// its last Seq, and the senders it found present (not left), each with
// the rowids that SQLite's pre-update hook names when those rows change.
type appendState struct {
	rowid        int64
	state, owner string
	lastSeq      int64
	present      map[string]int64 // participant id → rowid
}

// appendCache holds the appendStates of recently appended-to contacts. The
// writer's connection alone writes the database, and its hooks keep the
// cache true to it: a change to a remembered contact's or participant's
// row forgets that contact, and a rollback forgets every contact the
// current transaction read or appended to; a miss reads the database
// again. Only the writer goroutine uses it (SQLite runs the hooks on the
// goroutine running the statement).
type appendCache struct {
	byID          map[string]*appendState
	contactRowids map[int64]string // contacts.rowid → id, for byID's entries
	partRowids    map[int64]string // participants.rowid → contact id
	// touched lists the contacts remembered or appended to since the last
	// commit, which a rollback forgets.
	touched []string
}

func newAppendCache() *appendCache {
	c := &appendCache{}
	c.clear()
	return c
}

func (c *appendCache) clear() {
	c.byID = make(map[string]*appendState)
	c.contactRowids = make(map[int64]string)
	c.partRowids = make(map[int64]string)
}

func (c *appendCache) get(contactID string) *appendState { return c.byID[contactID] }

// put remembers s as contactID's state, forgetting another contact's if
// the cache is full.
func (c *appendCache) put(contactID string, s *appendState) {
	c.forget(contactID)
	c.touched = append(c.touched, contactID)
	if len(c.byID) >= maxAppendStates {
		for id := range c.byID {
			c.forget(id)
			break
		}
	}
	c.byID[contactID] = s
	c.contactRowids[s.rowid] = contactID
}

// addPresent records that participant id (at rowid) of contactID's
// remembered state is present.
func (c *appendCache) addPresent(contactID string, s *appendState, id string, rowid int64) {
	if s.present == nil {
		s.present = make(map[string]int64, 2)
	}
	s.present[id] = rowid
	c.partRowids[rowid] = contactID
}

// appended records that contactID's last Seq is now seq.
func (c *appendCache) appended(contactID string, s *appendState, seq int64) {
	s.lastSeq = seq
	c.touched = append(c.touched, contactID)
}

// committed is called when the writer's transaction has committed.
func (c *appendCache) committed() { c.touched = c.touched[:0] }

// rolledBack forgets what the transaction that rolled back (whole or to a
// savepoint) may have changed.
func (c *appendCache) rolledBack() {
	for _, id := range c.touched {
		c.forget(id)
	}
	c.touched = c.touched[:0]
}

// forget drops what the cache holds of contactID.
func (c *appendCache) forget(contactID string) {
	s := c.byID[contactID]
	if s == nil {
		return
	}
	delete(c.byID, contactID)
	delete(c.contactRowids, s.rowid)
	for _, rowid := range s.present {
		delete(c.partRowids, rowid)
	}
}

// changed is SQLite's pre-update hook on the writer's connection. New
// rows change nothing remembered (a new participant is looked up on its
// first message); an update or delete of a contact or participant row
// makes its contact's state stale. Items are not followed: appends keep
// lastSeq themselves, and the other writes that append items forget the
// contact.
func (c *appendCache) changed(d sqlitedriver.SQLitePreUpdateData) {
	if d.Op == sqlitelib.SQLITE_INSERT {
		return
	}
	switch d.TableName {
	case "contacts":
		c.forget(c.contactRowids[d.OldRowID])
	case "participants":
		c.forget(c.partRowids[d.OldRowID])
	}
}

// hook installs the cache's hooks on the writer's connection.
func (c *appendCache) hook(conn sqlitedriver.HookRegisterer) {
	conn.RegisterPreUpdateHook(c.changed)
	conn.RegisterRollbackHook(c.rolledBack)
}

package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/helplinehq/helpline"
)

// The agent WebSocket, GET /api/agent/ws: an agent console's one live
// connection. It pushes JSON text frames {"type": ..., ...}:
//
//	hello         on connect: the agent, its presence, chats, pending
//	              offers and its queues' waiting counts
//	offer         an offer made to the agent, with what the agent reads
//	              of its chat before accepting (preview: the bot's
//	              handoff reason and summary, the customer's last
//	              question, name, identity and key attributes); sent
//	              again, same id, when the bot's handoff is recorded after
//	              the offer was made
//	offer.closed  an offer accepted, declined, expired or withdrawn
//	assigned      a chat became the agent's (its owner agent:<id>)
//	unassigned    a chat stopped being the agent's (transferred, requeued,
//	              ended)
//	item          a stored item of one of the agent's chats, with its Seq
//	typing        someone typing in one of the agent's chats
//	queue         the waiting count of one of the agent's queues changed
//	              (counts are reread at most every 200 ms; a count that
//	              changed several times meanwhile comes once, at its
//	              latest, and one back where it was comes not at all)
//	presence      the agent's presence, as routing acts on it, changed
//	resumed       the answer to resume, once the items it asked for are sent
//	pong          the answer to ping
//	error         a frame the server could not take; the socket stays open
//
// The client sends {"type":"resume","chats":{"<contactId>":<lastSeq>}}
// to start the items: each of its chats is caught up from the store after
// the Seq named (from the first item when not named), then items follow
// live, each Seq once and in order, whatever the bus lost meanwhile. Until
// the first resume no item is sent. {"type":"ping"} is answered with pong.
//
// A session's socket is the agent's live connection: it records the
// agent as seen (AgentFeed.TouchAgent) on connect, on every client frame
// and every wsPingEvery, so that an agent whose sockets are all closed
// counts as offline once routing.presence_grace has passed.

// Agent socket limits.
const (
	// wsQueueLen is how many bus events may wait for one socket; one more
	// drops the socket (its connection is closed) rather than hold up the
	// node's fan-out.
	wsQueueLen = 256
	// wsReadLimit bounds client frames; a larger one is answered with
	// close code 1009 and the socket ends.
	wsReadLimit = 16 << 10
	// wsCatchUpBatch is how many items one store read catches up.
	wsCatchUpBatch = 200
	// wsDrainMax is how many waiting events one reread of the desk covers.
	wsDrainMax = 64
	// wsCountsEvery is the least time between the starts of two rereads
	// of one socket's waiting counts: changes within it are pushed
	// together, at their latest, by the next reread.
	wsCountsEvery = 200 * time.Millisecond
	// Defaults of AgentConfig.SocketIdle and SocketPing.
	DefaultSocketIdle = 60 * time.Second
	DefaultSocketPing = 20 * time.Second
)

// kindResync is the hub's own event to its sockets: the bus lost events,
// so reread the desk and catch every chat up from the store.
const kindResync helpline.EventKind = "httpapi.resync"

// wsHub is the node's one pair of bus subscriptions (every contact,
// every agent) for all agent sockets: it hands each event to the sockets
// it concerns, without ever waiting for one, and drops the sockets of an
// agent signed out on any node (EventSignedOut). It subscribes when the first
// socket opens and unsubscribes when the last one closes.
//
// It finds the sockets an event concerns through indexes of what each
// socket asked for (its agent, its chats, its queues and the contacts
// waiting in them), so that an event costs in proportion to the sockets
// it concerns, not to every socket of the node.
type wsHub struct {
	bus helpline.Bus
	log *slog.Logger

	// mu guards sockets, the indexes, every socket's interest and stamp,
	// round and stop.
	mu      sync.Mutex
	sockets map[*agentSocket]struct{}
	byAgent socketIndex // by agent id: the sockets watching that agent
	chats   socketIndex // by contact id: the sockets whose agent owns it
	waiting socketIndex // by contact id: the sockets of a queue it waits in
	queues  socketIndex // by queue id: the sockets of agents serving it
	offered socketIndex // by contact id: the sockets it is offered to
	// round numbers the events handed out, so that a socket found in
	// several indexes gets an event once (agentSocket.stamp).
	round uint64
	stop  func() // ends the running fan-out; nil when none runs
}

// socketIndex maps a key to a set of sockets.
type socketIndex map[string]map[*agentSocket]struct{}

func (x socketIndex) add(key string, s *agentSocket) {
	set := x[key]
	if set == nil {
		set = map[*agentSocket]struct{}{}
		x[key] = set
	}
	set[s] = struct{}{}
}

func (x socketIndex) remove(key string, s *agentSocket) {
	if set := x[key]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(x, key)
		}
	}
}

// reindex replaces the keys s is found under in x, from old to now.
func (x socketIndex) reindex(s *agentSocket, old, now map[string]bool) {
	for k := range old {
		if !now[k] {
			x.remove(k, s)
		}
	}
	for k := range now {
		if !old[k] {
			x.add(k, s)
		}
	}
}

func newWSHub(bus helpline.Bus, log *slog.Logger) *wsHub {
	return &wsHub{bus: bus, log: log, sockets: map[*agentSocket]struct{}{},
		byAgent: socketIndex{}, chats: socketIndex{}, waiting: socketIndex{}, queues: socketIndex{}, offered: socketIndex{}}
}

func (h *wsHub) add(ctx context.Context, s *agentSocket) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stop == nil {
		contacts, err := h.bus.Subscribe(ctx, helpline.AllContacts)
		if err != nil {
			return err
		}
		agents, err := h.bus.Subscribe(ctx, helpline.AllAgents)
		if err != nil {
			contacts.Close()
			return err
		}
		done := make(chan struct{})
		h.stop = func() { close(done); contacts.Close(); agents.Close() }
		go h.run(done, contacts, agents)
	}
	h.sockets[s] = struct{}{}
	h.byAgent.add(s.agentID, s)
	return nil
}

func (h *wsHub) remove(s *agentSocket) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.sockets[s]; !ok {
		return
	}
	delete(h.sockets, s)
	h.byAgent.remove(s.agentID, s)
	h.forgetLocked(s)
	if len(h.sockets) == 0 && h.stop != nil {
		h.stop()
		h.stop = nil
	}
}

// dropAgent drops the agent's own sockets (not those watching it), as
// when it is disabled.
func (h *wsHub) dropAgent(instanceID, agentID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropAgentLocked(instanceID, agentID)
}

// dropAgentLocked is dropAgent with h.mu held.
func (h *wsHub) dropAgentLocked(instanceID, agentID string) {
	for s := range h.byAgent[agentID] {
		if s.touch && s.instanceID == instanceID {
			s.drop()
		}
	}
}

// setInterest records the contacts and queues whose events s is handed
// beyond its agent's own: chats are its agent's chats, waiting the
// contacts waiting in each of its queues, by queue (nil keeps the
// waiting contacts and queues as they are).
func (h *wsHub) setInterest(s *agentSocket, chats []string, waiting map[string][]string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.sockets[s]; !ok {
		return // removed: it must not come back into the indexes
	}
	if chats != nil {
		set := make(map[string]bool, len(chats))
		for _, id := range chats {
			set[id] = true
		}
		h.chats.reindex(s, s.chats, set)
		s.chats = set
	}
	if waiting != nil {
		h.setWaitingLocked(s, waiting)
	}
}

// setWaitingLocked records the queues and waiting contacts whose events
// s is handed; h.mu is held.
func (h *wsHub) setWaitingLocked(s *agentSocket, waiting map[string][]string) {
	queues, contacts := map[string]bool{}, map[string]bool{}
	for q, ids := range waiting {
		queues[q] = true
		for _, id := range ids {
			contacts[id] = true
		}
	}
	h.queues.reindex(s, s.queues, queues)
	h.waiting.reindex(s, s.waiting, contacts)
	s.queues, s.waiting = queues, contacts
}

// forgetLocked takes s out of the contact and queue indexes; h.mu is
// held.
func (h *wsHub) forgetLocked(s *agentSocket) {
	h.chats.reindex(s, s.chats, nil)
	h.waiting.reindex(s, s.waiting, nil)
	h.queues.reindex(s, s.queues, nil)
	h.offered.reindex(s, s.offered, nil)
	s.chats, s.waiting, s.queues, s.offered = nil, nil, nil, nil
}

// setOffered records that s is handed the handoff of contactID (on is
// true: a pending offer of it was pushed) or no longer (on is false).
func (h *wsHub) setOffered(s *agentSocket, contactID string, on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.sockets[s]; !ok {
		return // removed: it must not come back into the indexes
	}
	if on && !s.offered[contactID] {
		if s.offered == nil {
			s.offered = map[string]bool{}
		}
		s.offered[contactID] = true
		h.offered.add(contactID, s)
	} else if !on && s.offered[contactID] {
		delete(s.offered, contactID)
		h.offered.remove(contactID, s)
	}
}

// fanOutLocked hands ev to each socket it concerns, once: its agent's
// own subject's events; items of its chats, the end of a contact
// waiting in its queues and the handoff of a contact offered to it;
// owner changes of its chats, of contacts waiting in its queues, to its
// agent or into one of its queues. h.mu is held.
func (h *wsHub) fanOutLocked(ev helpline.Event) {
	h.round++
	give := func(set map[*agentSocket]struct{}) {
		for s := range set {
			if s.stamp != h.round {
				s.stamp = h.round
				s.notify(ev)
			}
		}
	}
	if id := ev.Subject.AgentID(); id != "" {
		give(h.byAgent[id])
		return
	}
	id := ev.Subject.ContactID()
	switch ev.Kind {
	case helpline.EventItem:
		give(h.chats[id])
		switch ev.Item.ContentType {
		case helpline.EventChatEnded:
			give(h.waiting[id])
		case helpline.EventHandoff:
			give(h.offered[id])
		}
	case helpline.EventOwner:
		give(h.chats[id])
		give(h.waiting[id])
		switch kind, who, _ := strings.Cut(ev.Owner.Owner, ":"); kind {
		case helpline.OwnerAgent:
			give(h.byAgent[who])
		case helpline.OwnerQueue:
			give(h.queues[who])
		}
	}
}

// run fans events out until done is closed. When the bus closes (the node
// is stopping) it drops every socket.
func (h *wsHub) run(done chan struct{}, contacts, agents helpline.Subscription) {
	var lost uint64
	for {
		var ev helpline.Event
		var ok bool
		select {
		case <-done:
			return
		case ev, ok = <-contacts.Events():
		case ev, ok = <-agents.Events():
		}
		h.mu.Lock()
		select {
		case <-done:
			h.mu.Unlock()
			return
		default:
		}
		if !ok {
			for s := range h.sockets {
				s.drop()
			}
			h.mu.Unlock()
			return
		}
		if l := contacts.Lost() + agents.Lost(); l != lost {
			lost = l
			for s := range h.sockets {
				s.notify(helpline.Event{Kind: kindResync})
			}
		}
		if ev.Kind == helpline.EventSignedOut && ev.SignedOut != nil {
			// The agent was signed out, maybe on another node.
			h.dropAgentLocked(ev.SignedOut.InstanceID, ev.Subject.AgentID())
		} else {
			h.fanOutLocked(ev)
		}
		h.mu.Unlock()
	}
}

// agentSockets is what the agent API's sockets share.
type agentSockets struct {
	hub     *wsHub
	idle    time.Duration   // AgentConfig.SocketIdle
	origins map[string]bool // lower-case scheme://host
}

// newAgentSockets fills cfg's socket defaults and sets up the agent
// WebSocket.
func newAgentSockets(cfg *AgentConfig, log *slog.Logger) *agentSockets {
	if cfg.SocketIdle <= 0 {
		cfg.SocketIdle = DefaultSocketIdle
	}
	if cfg.SocketPing <= 0 {
		cfg.SocketPing = DefaultSocketPing
	}
	as := &agentSockets{hub: newWSHub(cfg.Bus, log), idle: cfg.SocketIdle, origins: map[string]bool{}}
	for _, o := range append([]string{cfg.PublicURL}, cfg.AllowedOrigins...) {
		if u, err := url.Parse(o); err == nil && u.Scheme != "" && u.Host != "" {
			as.origins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
		}
	}
	return as
}

// originAllowed reports whether a browser page of origin may open an
// agent's socket with the session cookie: a page of the server's own host,
// of public_url, or of an allowed origin. Requests without an Origin (not
// from a browser) may.
func (a *agentAPI) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host) || a.sockets.origins[strings.ToLower(u.Scheme+"://"+u.Host)]
}

// serveSocket authenticates (Authenticate ran before it), checks and
// upgrades GET /api/agent/ws[?agent=<id>].
//
// A session opens its own agent's socket, and with a session the Origin
// must be the server's own (its host, public_url or AllowedOrigins),
// else 403: the cookie alone must not let another site's page read an
// agent's chats. A supervisor or admin, session or token, may name
// another agent of its instance with ?agent=<id> to watch its desk; such a
// socket does not keep that agent's presence up. A token must name the
// agent. An agent-role token reaches no chats, so its socket is refused
// with 403.
//
// While the node drains (Draining), a socket is refused with 503 and
// Retry-After, and an open one is closed with code 1012.
func (a *agentAPI) serveSocket(w http.ResponseWriter, r *http.Request) {
	select {
	case <-a.cfg.Draining:
		w.Header().Set("Retry-After", "1")
		writeJSON(w, statusOf(codeUnavailable), errorBody(codeUnavailable, "This server is restarting; reconnect."))
		return
	default:
	}
	p := PrincipalFrom(r.Context())
	s, err := a.openSocket(r, p)
	if err != nil {
		fail(a.log, w, r, err)
		return
	}
	if err := a.sockets.hub.add(r.Context(), s); err != nil {
		fail(a.log, w, r, err)
		return
	}
	// serveSocket checks the Origin itself (openSocket), before
	// upgrading, and only for cookie requests.
	ws, err := upgradeWS(w, r, a.sockets.idle)
	if err != nil {
		a.sockets.hub.remove(s)
		return // the upgrader has answered
	}
	s.attach(ws)
	// The socket's goroutines outlive the request, so that the HTTP
	// server's per-connection buffers are freed. A socket dropped already
	// has its connection closed: they end at once and remove it from the
	// hub.
	go s.read()
	go s.pump(context.Background())
}

func (a *agentAPI) openSocket(r *http.Request, p *Principal) (*agentSocket, error) {
	if a.cfg.Feed == nil || a.cfg.Bus == nil {
		return nil, helpline.Errorf(helpline.ENOTFOUND, "This server has no agent WebSocket.")
	}
	if p.session != nil && !a.originAllowed(r) {
		return nil, helpline.Errorf(helpline.EFORBIDDEN, "Origin %s may not open an agent's socket.", r.Header.Get("Origin"))
	}
	id := r.URL.Query().Get("agent")
	switch {
	case p.AgentID == "" && !p.Has(helpline.AgentRoleSupervisor):
		return nil, helpline.Errorf(helpline.EFORBIDDEN, "An agent-role API token reaches no agent's chats.")
	case id == "" && p.AgentID == "":
		return nil, helpline.Errorf(helpline.EINVALID, "An API token names the agent to watch: ?agent=<id>.")
	case id == "":
		id = p.AgentID
	case id != p.AgentID && !p.Has(helpline.AgentRoleSupervisor):
		return nil, helpline.Errorf(helpline.EFORBIDDEN, "Only a supervisor or admin watches another agent.")
	}
	if _, err := a.cfg.Agents.FindAgentByID(r.Context(), p.InstanceID, id); err != nil {
		return nil, err
	}
	return &agentSocket{api: a, instanceID: p.InstanceID, agentID: id, touch: id == p.AgentID,
		events: make(chan helpline.Event, wsQueueLen), cmds: make(chan wsClientFrame),
		done: make(chan struct{}), waitRead: make(chan waitingRead, 1)}, nil
}

// agentSocket is one agent WebSocket. The reader goroutine reads client
// frames and hands them to the pump; the pump goroutine owns the write
// side and all the socket's state but the interest sets, which the hub
// keeps.
type agentSocket struct {
	api *agentAPI
	// ws is the connection, set by attach once the upgrade is done: the
	// hub hands the socket events (and may drop it) from the moment it
	// is added, before the upgrade. wsMu guards it until then; the
	// socket's goroutines, started after attach, read it freely.
	wsMu       sync.Mutex
	ws         *wsConn
	instanceID string
	agentID    string
	// touch: the socket is the agent's own live connection.
	touch bool
	// events are what the hub handed over, at most wsQueueLen.
	events chan helpline.Event
	cmds   chan wsClientFrame
	// done is closed when the socket ends.
	done     chan struct{}
	doneOnce sync.Once

	// What the hub hands the socket beyond its agent's own events (its
	// chats, the contacts waiting in its queues, its queues, the contacts
	// of its pending offers), and the round of the last event handed;
	// wsHub.mu guards them.
	chats, waiting, queues, offered map[string]bool
	stamp                           uint64

	// The pump's state.
	streaming bool                          // a resume started the items
	sent      map[string]int64              // chat → highest Seq pushed
	assigned  map[string]helpline.OwnedChat // chats as last pushed
	offers    map[string]*helpline.Offer    // pending offers as last pushed
	counts    map[string]int                // waiting counts as last pushed
	status    string                        // presence as last pushed
	stale     bool                          // the desk must be reread
	// queuesStale: only the waiting counts must be reread, which happens
	// off the pump (readWaiting), so that offers and items never wait
	// for it.
	queuesStale bool
	reading     bool             // a read of the waiting counts runs
	readAt      time.Time        // when the last one started
	readTimer   <-chan time.Time // fires when the next one may start; nil if none is due
	rereads     int              // desk rereads so far
	waitRead    chan waitingRead // the running read's result
}

// waitingRead is the result of one read of the waiting counts, started
// after rereads desk rereads.
type waitingRead struct {
	rereads int
	waiting map[string][]string
	err     error
}

// notify hands ev to the socket (the hub chose it). It never blocks: a
// socket whose queue is full is dropped.
func (s *agentSocket) notify(ev helpline.Event) {
	select {
	case s.events <- ev:
	default:
		s.drop()
	}
}

// drop ends the socket at once: its connection is closed without a close
// frame, and both goroutines end. A socket dropped before its upgrade is
// done closes the connection when attach gives it.
func (s *agentSocket) drop() {
	s.doneOnce.Do(func() {
		close(s.done)
		s.wsMu.Lock()
		defer s.wsMu.Unlock()
		if s.ws != nil {
			s.ws.close()
		}
	})
}

// attach gives the socket its upgraded connection, closing it at once if
// the socket was dropped meanwhile.
func (s *agentSocket) attach(ws *wsConn) {
	s.wsMu.Lock()
	defer s.wsMu.Unlock()
	s.ws = ws
	select {
	case <-s.done:
		ws.close()
	default:
	}
}

// wsClientFrame is what clients send. err is set by the reader for a
// frame it could not read.
type wsClientFrame struct {
	Type  string           `json:"type"`
	Chats map[string]int64 `json:"chats"`
	err   string
}

// read reads client frames until the connection fails or goes idle: a
// client that sends nothing, not even a pong to the server's pings, for
// SocketIdle is gone.
func (s *agentSocket) read() {
	defer s.drop()
	for {
		typ, data, err := s.ws.readMessage()
		if err != nil {
			return
		}
		var f wsClientFrame
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if typ != ws.OpText {
			f.err = "Only JSON text frames are accepted."
		} else if err := dec.Decode(&f); err != nil {
			f = wsClientFrame{err: "The frame is not a JSON object of a known shape: " + err.Error()}
		}
		select {
		case s.cmds <- f:
		case <-s.done:
			return
		}
	}
}

// pump writes the socket: the hello, then what events, client frames and
// the ping ticker call for, until the socket ends.
func (s *agentSocket) pump(ctx context.Context) {
	defer s.cleanup()
	if err := s.start(ctx); err != nil {
		s.fault(err)
		return
	}
	ticker := time.NewTicker(s.api.cfg.SocketPing)
	defer ticker.Stop()
	for {
		var err error
		select {
		case <-s.done:
			return
		case <-s.api.cfg.Draining:
			s.ws.writeClose(wsStatusServiceRestart, "server restarting; reconnect")
			return
		case ev := <-s.events:
			err = s.handleEvents(ctx, ev)
		case r := <-s.waitRead:
			err = s.waitingRead(ctx, r)
		case <-s.readTimer:
			s.readTimer = nil
			s.readWaiting(ctx)
		case f := <-s.cmds:
			err = s.handleFrame(ctx, f)
		case <-ticker.C:
			if err = s.ws.writeFrame(ws.OpPing, nil, time.Now().Add(writeWait)); err != nil {
				err = &wsWriteError{err}
			} else {
				err = s.touchAgent(ctx)
			}
		}
		if err != nil {
			s.fault(err)
			return
		}
	}
}

// writeWait bounds one frame's write; a client that takes longer is gone.
const writeWait = 10 * time.Second

func (s *agentSocket) cleanup() {
	s.drop()
	s.api.sockets.hub.remove(s)
	s.ws.close()
}

// fault ends the socket after an error: a store fault is logged and the
// client told with close code 1011; a write that failed needs nothing
// more.
func (s *agentSocket) fault(err error) {
	select {
	case <-s.done:
		return
	default:
	}
	var we *wsWriteError
	if errors.As(err, &we) {
		return
	}
	s.api.log.Error("agent socket", "agent", s.agentID, "err", err)
	s.ws.writeClose(ws.StatusInternalServerError, "internal error")
}

func (s *agentSocket) touchAgent(ctx context.Context) error {
	if !s.touch {
		return nil
	}
	return s.api.cfg.Feed.TouchAgent(ctx, s.instanceID, s.agentID)
}

// start touches the agent, reads its desk and sends the hello.
func (s *agentSocket) start(ctx context.Context) error {
	if err := s.touchAgent(ctx); err != nil {
		return err
	}
	v, err := s.api.cfg.Feed.AgentView(ctx, s.instanceID, s.agentID)
	if err != nil {
		return err
	}
	s.sent, s.assigned, s.offers, s.counts = map[string]int64{}, map[string]helpline.OwnedChat{}, map[string]*helpline.Offer{}, map[string]int{}
	s.status = v.Status
	hello := wsFrame{Type: "hello", Agent: s.agentID, Presence: presenceFrame(v), Chats: []wsChat{}, Offers: []*wsOffer{}, Queues: []wsQueue{}}
	for _, c := range v.Chats {
		s.assigned[c.ContactID] = c
		hello.Chats = append(hello.Chats, chatFrame(c))
	}
	for _, o := range v.Offers {
		s.offers[o.ID] = o
		f, err := s.pendingOfferFrame(ctx, o)
		if err != nil {
			return err
		}
		hello.Offers = append(hello.Offers, f)
	}
	for _, q := range sortedKeys(v.Waiting) {
		s.counts[q] = len(v.Waiting[q])
		hello.Queues = append(hello.Queues, wsQueue{Queue: q, Waiting: len(v.Waiting[q])})
	}
	s.setInterest(v)
	return s.send(&hello)
}

// setInterest records what the hub hands the socket.
func (s *agentSocket) setInterest(v *helpline.AgentView) {
	chats := make([]string, 0, len(v.Chats))
	for _, c := range v.Chats {
		chats = append(chats, c.ContactID)
	}
	waiting := v.Waiting
	if waiting == nil {
		waiting = map[string][]string{}
	}
	s.api.sockets.hub.setInterest(s, chats, waiting)
}

// handleEvents handles ev and the events already waiting (up to
// wsDrainMax), then rereads the desk once if one of them called for it,
// or else starts a reread of the waiting counts if one called for that.
func (s *agentSocket) handleEvents(ctx context.Context, ev helpline.Event) error {
	for n := 0; ; n++ {
		if err := s.handleEvent(ctx, ev); err != nil {
			return err
		}
		if n == wsDrainMax || len(s.events) == 0 {
			break
		}
		ev = <-s.events
	}
	if s.stale {
		s.stale = false
		if err := s.reconcile(ctx); err != nil {
			return err
		}
	}
	s.readWaiting(ctx)
	return nil
}

// concerns reports whether an owner change or end of contact id may
// change the agent's own desk (its chats or pending offers), beyond the
// waiting counts of its queues: the contact is one of its chats or of
// its pending offers, or owner (the new owner, if any) is the agent.
func (s *agentSocket) concerns(id, owner string) bool {
	if owner == helpline.OwnerAgent+":"+s.agentID {
		return true
	}
	if _, ok := s.assigned[id]; ok {
		return true
	}
	for _, o := range s.offers {
		if o.ContactID == id && o.State == helpline.OfferPending {
			return true
		}
	}
	return false
}

// readWaiting starts a reread of the waiting counts when one is due, none
// runs and wsCountsEvery has passed since the last one started (else the
// timer starts it then). It runs off the pump; waitingRead takes its
// result. Counts that change several times meanwhile are pushed once, at
// their latest.
func (s *agentSocket) readWaiting(ctx context.Context) {
	if !s.queuesStale || s.reading || s.readTimer != nil {
		return
	}
	if wait := wsCountsEvery - time.Since(s.readAt); wait > 0 {
		s.readTimer = time.After(wait)
		return
	}
	s.queuesStale, s.reading, s.readAt = false, true, time.Now()
	rereads := s.rereads
	go func() {
		w, err := s.api.cfg.Feed.QueueWaiting(ctx, s.instanceID, s.agentID)
		s.waitRead <- waitingRead{rereads: rereads, waiting: w, err: err}
	}()
}

// waitingRead pushes the waiting counts a reread found, unless a desk
// reread that began after it has pushed newer ones, and starts the next
// reread if a change came meanwhile.
func (s *agentSocket) waitingRead(ctx context.Context, r waitingRead) error {
	s.reading = false
	if r.err != nil {
		return r.err
	}
	if r.rereads == s.rereads {
		if r.waiting != nil {
			s.api.sockets.hub.setInterest(s, nil, r.waiting)
		}
		if err := s.pushCounts(r.waiting); err != nil {
			return err
		}
	}
	s.readWaiting(ctx)
	return nil
}

// pushCounts pushes the waiting counts that changed since last pushed.
func (s *agentSocket) pushCounts(waiting map[string][]string) error {
	for _, q := range sortedKeys(waiting) {
		if n := len(waiting[q]); n != s.counts[q] {
			s.counts[q] = n
			if err := s.send(&wsFrame{Type: "queue", Queue: q, Waiting: &n}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *agentSocket) handleEvent(ctx context.Context, ev helpline.Event) error {
	switch ev.Kind {
	case kindResync:
		s.stale = true
		if s.streaming {
			for id := range s.assigned {
				if err := s.catchUp(ctx, id); err != nil {
					return err
				}
			}
		}
	case helpline.EventOffer:
		return s.offerChanged(ctx, ev.Offer)
	case helpline.EventPresence:
		if st := s.api.cfg.Feed.PresenceStatus(*ev.Presence); st != s.status {
			s.status = st
			return s.send(&wsFrame{Type: "presence", Presence: &wsPresence{Status: st, Set: ev.Presence.Status}})
		}
	case helpline.EventOwner:
		if s.concerns(ev.Subject.ContactID(), ev.Owner.Owner) {
			s.stale = true
		} else {
			s.queuesStale = true
		}
	case helpline.EventItem:
		it := ev.Item
		if it.ContentType == helpline.EventHandoff {
			if err := s.handedOff(ctx, it.ContactID); err != nil {
				return err
			}
		}
		if it.ContentType == helpline.EventChatEnded {
			if s.concerns(it.ContactID, "") {
				s.stale = true
			} else {
				s.queuesStale = true
			}
		}
		if _, mine := s.assigned[it.ContactID]; !mine || !s.streaming {
			return nil
		} else if !it.Stored() {
			if it.ContentType != helpline.EventTyping {
				return nil
			}
			return s.send(&wsFrame{Type: "typing", Contact: it.ContactID, ParticipantID: it.ParticipantID,
				DisplayName: it.DisplayName, Role: it.Role})
		}
		return s.deliver(ctx, it)
	}
	return nil
}

// deliver pushes a live item: once, in Seq order. An item past a gap
// (events the bus lost) catches the chat up from the store instead.
func (s *agentSocket) deliver(ctx context.Context, it *helpline.Item) error {
	last := s.sent[it.ContactID]
	switch {
	case it.Seq <= last:
		return nil
	case it.Seq > last+1:
		return s.catchUp(ctx, it.ContactID)
	}
	if err := s.send(itemFrame(it)); err != nil {
		return err
	}
	s.sent[it.ContactID] = it.Seq
	return nil
}

// catchUp pushes the chat's stored items after the last one pushed.
func (s *agentSocket) catchUp(ctx context.Context, contactID string) error {
	for {
		items, err := s.api.cfg.Feed.ItemsAfter(ctx, contactID, s.sent[contactID], wsCatchUpBatch)
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := s.send(itemFrame(it)); err != nil {
				return err
			}
			s.sent[contactID] = it.Seq
		}
		if len(items) < wsCatchUpBatch {
			return nil
		}
	}
}

// offerChanged pushes an offer's new state, once per state.
func (s *agentSocket) offerChanged(ctx context.Context, o *helpline.Offer) error {
	known, ok := s.offers[o.ID]
	if o.State == helpline.OfferPending {
		if ok {
			return nil
		}
		s.offers[o.ID] = o
		f, err := s.pendingOfferFrame(ctx, o)
		if err != nil {
			return err
		}
		return s.send(&wsFrame{Type: "offer", Offer: f})
	} else if !ok || known.State != helpline.OfferPending {
		return nil
	}
	s.offers[o.ID] = o
	s.api.sockets.hub.setOffered(s, o.ContactID, false)
	return s.send(&wsFrame{Type: "offer.closed", Offer: offerFrame(o)})
}

// pendingOfferFrame is a pending offer's frame with its preview. The
// hub hands the socket the contact's handoff from before the preview is
// read, so that a handoff recorded after the read is pushed again
// (handedOff): the bot changes the owner, which makes the offer, before
// it records the handoff.
func (s *agentSocket) pendingOfferFrame(ctx context.Context, o *helpline.Offer) (*wsOffer, error) {
	s.api.sockets.hub.setOffered(s, o.ContactID, true)
	p, err := s.api.cfg.Feed.OfferPreview(ctx, o.ContactID)
	if err != nil {
		return nil, err
	}
	f := offerFrame(o)
	f.Preview = previewOut(p)
	return f, nil
}

// handedOff pushes again, with the handoff in its preview, the pending
// offer of a contact whose handoff was just recorded.
func (s *agentSocket) handedOff(ctx context.Context, contactID string) error {
	for _, id := range sortedKeys(s.offers) {
		if o := s.offers[id]; o.ContactID == contactID && o.State == helpline.OfferPending {
			f, err := s.pendingOfferFrame(ctx, o)
			if err != nil {
				return err
			}
			if err := s.send(&wsFrame{Type: "offer", Offer: f}); err != nil {
				return err
			}
		}
	}
	return nil
}

// reconcile rereads the desk and pushes what changed since it was last
// pushed: chats assigned (with their items when streaming) and
// unassigned, offers made and closed, queue counts, presence.
func (s *agentSocket) reconcile(ctx context.Context) error {
	s.rereads++
	s.queuesStale = false // the reread covers the counts too
	v, err := s.api.cfg.Feed.AgentView(ctx, s.instanceID, s.agentID)
	if err != nil {
		return err
	}
	s.setInterest(v)
	now := map[string]helpline.OwnedChat{}
	for _, c := range v.Chats {
		now[c.ContactID] = c
		if _, ok := s.assigned[c.ContactID]; ok {
			continue
		}
		s.assigned[c.ContactID] = c
		f := chatFrame(c)
		if err := s.send(&wsFrame{Type: "assigned", Contact: c.ContactID, Chat: &f}); err != nil {
			return err
		}
		if s.streaming {
			if err := s.catchUp(ctx, c.ContactID); err != nil {
				return err
			}
		}
	}
	for _, id := range sortedKeys(s.assigned) {
		if _, ok := now[id]; !ok {
			delete(s.assigned, id)
			delete(s.sent, id)
			if err := s.send(&wsFrame{Type: "unassigned", Contact: id}); err != nil {
				return err
			}
		}
	}
	pending := map[string]bool{}
	for _, o := range v.Offers {
		pending[o.ID] = true
		if err := s.offerChanged(ctx, o); err != nil {
			return err
		}
	}
	for _, id := range sortedKeys(s.offers) {
		if o := s.offers[id]; o.State == helpline.OfferPending && !pending[id] {
			// Closed before (or without) the event saying how: an offer
			// whose chat is now the agent's was accepted; another one
			// expired, was declined or withdrawn.
			closed := *o
			closed.State = "closed"
			if _, ok := now[o.ContactID]; ok {
				closed.State = helpline.OfferAccepted
			}
			if err := s.offerChanged(ctx, &closed); err != nil {
				return err
			}
		}
	}
	for id, o := range s.offers {
		if o.State != helpline.OfferPending {
			delete(s.offers, id) // its closing is pushed; nothing more comes
		}
	}
	if err := s.pushCounts(v.Waiting); err != nil {
		return err
	}
	if v.Status != s.status {
		s.status = v.Status
		return s.send(&wsFrame{Type: "presence", Presence: presenceFrame(v)})
	}
	return nil
}

// handleFrame answers a client frame. Every frame counts as a sign of the
// agent's live connection.
func (s *agentSocket) handleFrame(ctx context.Context, f wsClientFrame) error {
	if err := s.touchAgent(ctx); err != nil {
		return err
	}
	switch {
	case f.err != "":
		return s.sendError(helpline.EINVALID, f.err)
	case f.Type == "ping":
		return s.send(&wsFrame{Type: "pong"})
	case f.Type == "resume":
		return s.resume(ctx, f.Chats)
	}
	return s.sendError(helpline.EINVALID, "Unknown frame type "+strconv.Quote(f.Type)+"; send resume or ping.")
}

// resume sets where each chat's items start (after the Seq the client
// names; from the first item for a chat it does not name, on the first
// resume), catches every chat up and answers resumed with where each
// stands. Contacts that are not the agent's are left out of the answer.
func (s *agentSocket) resume(ctx context.Context, chats map[string]int64) error {
	for id, seq := range chats {
		if seq < 0 {
			return s.sendError(helpline.EINVALID, "The Seq of chat "+id+" is negative.")
		}
	}
	first := !s.streaming
	s.streaming = true
	for id := range s.assigned {
		if seq, ok := chats[id]; ok {
			s.sent[id] = seq
		} else if first {
			s.sent[id] = 0
		}
		if err := s.catchUp(ctx, id); err != nil {
			return err
		}
	}
	out := map[string]int64{}
	for id := range s.assigned {
		out[id] = s.sent[id]
	}
	return s.send(&wsFrame{Type: "resumed", Resumed: out})
}

func (s *agentSocket) sendError(code, msg string) error {
	return s.send(&wsFrame{Type: "error", Error: &wsError{Code: code, Message: msg}})
}

func (s *agentSocket) send(f *wsFrame) error {
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := s.ws.writeFrame(ws.OpText, data, time.Now().Add(writeWait)); err != nil {
		return &wsWriteError{err}
	}
	return nil
}

// wsWriteError is a failed write: the client is gone or too slow, which
// ends the socket and is no fault of ours.
type wsWriteError struct{ err error }

func (e *wsWriteError) Error() string { return e.err.Error() }
func (e *wsWriteError) Unwrap() error { return e.err }

// wsFrame is every frame the server sends; each type uses its fields.
type wsFrame struct {
	Type          string           `json:"type"`
	Agent         string           `json:"agent,omitempty"`
	Contact       string           `json:"contact,omitempty"`
	Seq           int64            `json:"seq,omitempty"`
	Item          *wsItem          `json:"item,omitempty"`
	ParticipantID string           `json:"participant_id,omitempty"`
	DisplayName   string           `json:"display_name,omitempty"`
	Role          string           `json:"role,omitempty"`
	Chat          *wsChat          `json:"chat,omitempty"`
	Chats         []wsChat         `json:"chats,omitempty"`
	Offer         *wsOffer         `json:"offer,omitempty"`
	Offers        []*wsOffer       `json:"offers,omitempty"`
	Queue         string           `json:"queue,omitempty"`
	Waiting       *int             `json:"waiting,omitempty"`
	Queues        []wsQueue        `json:"queues,omitempty"`
	Presence      *wsPresence      `json:"presence,omitempty"`
	Resumed       map[string]int64 `json:"seqs,omitempty"`
	Error         *wsError         `json:"error,omitempty"`
}

type wsItem struct {
	ID            string                   `json:"id"`
	Type          string                   `json:"type"`
	ContentType   string                   `json:"content_type"`
	Content       string                   `json:"content,omitempty"`
	ParticipantID string                   `json:"participant_id"`
	DisplayName   string                   `json:"display_name,omitempty"`
	Role          string                   `json:"role"`
	Time          time.Time                `json:"time"`
	Attachments   []helpline.AttachmentRef `json:"attachments,omitempty"`
	// Metadata is a receipt's: which message was read or delivered.
	Metadata *helpline.MessageMetadata `json:"metadata,omitempty"`
}

type wsChat struct {
	Contact string    `json:"contact"`
	Queue   string    `json:"queue,omitempty"`
	Version int64     `json:"version"`
	Since   time.Time `json:"since"`
	LastSeq int64     `json:"last_seq"`
}

type wsOffer struct {
	ID        string       `json:"id"`
	Contact   string       `json:"contact"`
	Queue     string       `json:"queue"`
	State     string       `json:"state"`
	CreatedAt time.Time    `json:"created_at"`
	ExpiresAt time.Time    `json:"expires_at"`
	DecidedAt *time.Time   `json:"decided_at,omitempty"`
	Preview   *previewJSON `json:"preview,omitempty"`
}

type wsQueue struct {
	Queue   string `json:"queue"`
	Waiting int    `json:"waiting"`
}

type wsPresence struct {
	// Status is the presence routing acts on; Set is what the agent set.
	Status string `json:"status"`
	Set    string `json:"set"`
}

type wsError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func itemFrame(it *helpline.Item) *wsFrame {
	return &wsFrame{Type: "item", Contact: it.ContactID, Seq: it.Seq, Item: &wsItem{
		ID: it.ID, Type: it.Type, ContentType: it.ContentType, Content: it.Content, ParticipantID: it.ParticipantID,
		DisplayName: it.DisplayName, Role: it.Role, Time: it.Time, Attachments: it.Attachments, Metadata: it.Metadata}}
}

func chatFrame(c helpline.OwnedChat) wsChat {
	return wsChat{Contact: c.ContactID, Queue: c.QueueID, Version: c.Version, Since: c.Since, LastSeq: c.LastSeq}
}

func offerFrame(o *helpline.Offer) *wsOffer {
	f := &wsOffer{ID: o.ID, Contact: o.ContactID, Queue: o.QueueID, State: o.State, CreatedAt: o.CreatedAt, ExpiresAt: o.ExpiresAt}
	if !o.DecidedAt.IsZero() {
		f.DecidedAt = &o.DecidedAt
	}
	return f
}

func presenceFrame(v *helpline.AgentView) *wsPresence {
	return &wsPresence{Status: v.Status, Set: v.Presence.Status}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package chat

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/helplinehq/helpline"
)

// Limits are the engine's quotas and token lifetimes. Zero values mean the
// defaults, which are Amazon Connect's.
type Limits struct {
	// MaxActiveChats is the number of active contacts an instance may have
	// (default 500). StartChat returns EQUOTA beyond it.
	MaxActiveChats int
	// MaxAttachmentsPerContact (default 100) caps StartAttachmentUpload;
	// EQUOTA beyond it.
	MaxAttachmentsPerContact int
	// MaxAttachmentSize is the largest attachment in bytes (default 20 MB).
	MaxAttachmentSize int64
	// DefaultChatDuration applies when StartChat names none (default 25h).
	DefaultChatDuration time.Duration
	// ConnectionTokenTTL is the connection token's lifetime (default 24h),
	// capped at the chat's end.
	ConnectionTokenTTL time.Duration
	// WebSocketURLTTL is how long a WebSocket token may be used to open a
	// socket (default 100s).
	WebSocketURLTTL time.Duration
	// UploadURLTTL is how long an upload token may be used (default 5m).
	UploadURLTTL time.Duration
}

// Default limits.
const (
	DefaultMaxActiveChats           = 500
	DefaultMaxAttachmentsPerContact = 100
	DefaultMaxAttachmentSize        = helpline.MaxAttachmentSize
	DefaultChatDuration             = 25 * time.Hour
	DefaultConnectionTokenTTL       = 24 * time.Hour
	DefaultWebSocketURLTTL          = 100 * time.Second
	DefaultUploadURLTTL             = 5 * time.Minute
)

func (l Limits) withDefaults() Limits {
	if l.MaxActiveChats <= 0 {
		l.MaxActiveChats = DefaultMaxActiveChats
	}
	if l.MaxAttachmentsPerContact <= 0 {
		l.MaxAttachmentsPerContact = DefaultMaxAttachmentsPerContact
	}
	if l.MaxAttachmentSize <= 0 {
		l.MaxAttachmentSize = DefaultMaxAttachmentSize
	}
	if l.DefaultChatDuration <= 0 {
		l.DefaultChatDuration = DefaultChatDuration
	}
	if l.ConnectionTokenTTL <= 0 {
		l.ConnectionTokenTTL = DefaultConnectionTokenTTL
	}
	if l.WebSocketURLTTL <= 0 {
		l.WebSocketURLTTL = DefaultWebSocketURLTTL
	}
	if l.UploadURLTTL <= 0 {
		l.UploadURLTTL = DefaultUploadURLTTL
	}
	return l
}

// Config is what New needs. Store, Bus, Blobs and Tokens are required.
type Config struct {
	Store  helpline.Store
	Bus    helpline.Bus
	Blobs  helpline.BlobStore
	Tokens *helpline.Tokens
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to helpline.Now; results are truncated to milliseconds.
	Now    func() time.Time
	Limits Limits
	// Mirrors are the connectors that mirror every contact: StartChat
	// creates a mirror pair for each together with the contact.
	Mirrors []string
	// PresenceGrace is how long an agent without a live connection keeps
	// its status, for Transfer's checks (0 means routing.DefaultGrace).
	PresenceGrace time.Duration
}

// Service is the chat engine. It implements helpline.ContactService,
// helpline.ParticipantService, helpline.Feed and helpline.Intake; Run must
// be running for Watch to see live items and for chats to expire.
type Service struct {
	store  helpline.Store
	bus    helpline.Bus
	blobs  helpline.BlobStore
	tokens *helpline.Tokens
	log    *slog.Logger
	clock  func() time.Time
	limits Limits
	// mirrors are Config.Mirrors.
	mirrors []string
	// grace is Config.PresenceGrace.
	grace time.Duration

	sessions *sessionCache
	hub      *hub
	// waitSnaps coalesces the agent consoles' routing snapshot reads of
	// their queues' waiting contacts, at most one every waitingReadsEvery.
	waitSnaps *snapshots
	// served says which queues an enabled agent serves.
	served *servedQueues

	// runMu guards running.
	runMu   sync.Mutex
	running bool
	// ready is closed once Run first holds its bus subscription.
	ready     chan struct{}
	readyOnce sync.Once
}

var (
	_ helpline.ContactService     = (*Service)(nil)
	_ helpline.ParticipantService = (*Service)(nil)
	_ helpline.Feed               = (*Service)(nil)
	_ helpline.Intake             = (*Service)(nil)
)

// New returns an engine over cfg's store, bus, blob store and token signer.
func New(cfg Config) *Service {
	s := &Service{
		store:    cfg.Store,
		bus:      cfg.Bus,
		blobs:    cfg.Blobs,
		tokens:   cfg.Tokens,
		log:      cfg.Logger,
		clock:    cfg.Now,
		limits:   cfg.Limits.withDefaults(),
		mirrors:  cfg.Mirrors,
		grace:    cfg.PresenceGrace,
		sessions: newSessionCache(defaultSessionCacheSize),
		ready:    make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.clock == nil {
		s.clock = helpline.Now
	}
	s.hub = newHub(s.store, s.now, s.log)
	s.waitSnaps = newSnapshots(s.store, waitingReadsEvery)
	s.served = newServedQueues(s.store)
	return s
}

// sweepInterval is how often Run ends chats whose duration ran out.
const sweepInterval = 10 * time.Second

// Run does the engine's background work until ctx is done: it fans bus
// events out to watching sinks and ends expired chats. It subscribes to
// every contact's events once, returns nil when ctx is done (ending every
// watching sink) and an error if the bus subscription fails. Run may run
// once at a time per Service.
func (s *Service) Run(ctx context.Context) error {
	s.runMu.Lock()
	if s.running {
		s.runMu.Unlock()
		return helpline.Errorf(helpline.ECONFLICT, "chat: Run is already running")
	}
	s.running = true
	s.runMu.Unlock()
	defer func() {
		s.runMu.Lock()
		s.running = false
		s.runMu.Unlock()
	}()

	sub, err := s.bus.Subscribe(ctx, helpline.AllContacts)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer sub.Close()
	s.readyOnce.Do(func() { close(s.ready) })
	// Whatever was published before the subscription existed is caught up
	// from the store.
	s.hub.refillAll()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { s.sweep(ctx) })
	err = s.dispatch(ctx, sub)
	cancel()
	wg.Wait()
	s.hub.endAll()
	return err
}

// Ready is closed once Run has subscribed to the bus: from then on,
// ephemeral items (typing) reach watching sinks too. Stored items reach
// them in any case.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// dispatch routes item events to the session cache and the hub until ctx
// is done or the subscription closes; it passes over events of other kinds.
func (s *Service) dispatch(ctx context.Context, sub helpline.Subscription) error {
	var lost uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-sub.Events():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return helpline.Errorf(helpline.EINTERNAL, "chat: bus subscription closed")
			}
			if ev.Kind == helpline.EventItem && ev.Item != nil {
				s.sessions.observe(ev.Item)
				s.hub.dispatch(ev.Item)
			}
			if l := sub.Lost(); l != lost {
				s.log.Warn("chat: bus events lost; catching up from the store", "lost", l-lost)
				lost = l
				// A lost participant.left or chat.ended would leave a
				// session cached that the store no longer honours.
				s.sessions.reset()
				s.hub.refillAll()
			}
		}
	}
}

func (s *Service) sweep(ctx context.Context) {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.ExpireDue(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("chat: expiry sweep", "err", err)
			}
		}
	}
}

// now returns the injected clock's time in UTC, truncated to milliseconds.
func (s *Service) now() time.Time { return s.clock().UTC().Truncate(time.Millisecond) }

// publish announces stored or ephemeral items on the bus. The store is the
// record, so a failed publish is logged, not returned: subscribers catch up
// from the store.
func (s *Service) publish(ctx context.Context, items ...*helpline.Item) {
	ctx = context.WithoutCancel(ctx)
	for _, it := range items {
		if err := s.bus.Publish(ctx, helpline.NewItemEvent(it)); err != nil {
			s.log.Error("chat: publish", "contact", it.ContactID, "seq", it.Seq, "err", err)
		}
	}
}

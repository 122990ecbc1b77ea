package helpline

// Instance is a tenant, Connect's InstanceId: its contact flows and the API
// keys that may sign StartChatContact and the other contact operations.
type Instance struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Flows are the contact flows a chat may start in.
	Flows []Flow `json:"flows"`
	// AccessKeys verify SigV4 signatures (service "connect") on the
	// instance's contact operations.
	AccessKeys []AccessKey `json:"access_keys"`
}

// Flow says what happens to a new contact.
type Flow struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Greeting, when set, is sent by the system as the contact's first
	// message after the customer joins.
	Greeting string `json:"greeting,omitempty"`
	// Queue, when set, is the id of the queue the flow's contacts wait in
	// for an agent. A contact enters it as it starts, provided at least
	// one enabled agent of the instance serves the queue: where no agent
	// does, contacts start owned by nobody, so that an install without
	// agents works as it did before there were any.
	Queue string `json:"queue,omitempty"`
	// Bot, when set, is the id of the bot that answers the flow's chats
	// first: a contact is given to bot:<Bot> as it starts (one owner
	// change), and the bot hands it to a queue when a person is needed.
	// A flow with a bot does not enter Queue at start.
	Bot string `json:"bot,omitempty"`
	// Hours, when set, are the flow's business hours: a contact that
	// starts outside them gets AwayMessage after the greeting, and is
	// ended at once when EndOutOfHours is set (it waits otherwise).
	Hours         *BusinessHours `json:"hours,omitempty"`
	AwayMessage   string         `json:"away_message,omitempty"`
	EndOutOfHours bool           `json:"end_out_of_hours,omitempty"`
	// CSAT, when set, asks the customer for a rating when an agent
	// closes one of the flow's chats; nil ends the chat at once.
	CSAT *CSAT `json:"csat,omitempty"`
}

// DefaultQueueID is the id of the queue Helpline creates in the default
// instance on first start, which the default flow sends contacts to.
const DefaultQueueID = "default"

// AccessKey is an AWS-style access key pair.
type AccessKey struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

// FindFlow returns the instance's flow with the given id, or nil.
func (in *Instance) FindFlow(id string) *Flow {
	for i := range in.Flows {
		if in.Flows[i].ID == id {
			return &in.Flows[i]
		}
	}
	return nil
}

// FindAccessKey returns the instance's key with the given id, or nil.
func (in *Instance) FindAccessKey(id string) *AccessKey {
	for i := range in.AccessKeys {
		if in.AccessKeys[i].ID == id {
			return &in.AccessKeys[i]
		}
	}
	return nil
}

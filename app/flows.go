package app

import (
	"fmt"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

// FlowConfig declares a contact flow of an instance (instances: …
// flows:): what happens to the chats started in it.
type FlowConfig struct {
	ID       string `yaml:"id"`
	Name     string `yaml:"name"`
	Greeting string `yaml:"greeting"`
	// Queue is the queue the flow's chats wait in for an agent; they
	// enter it only while an enabled agent serves it (helpline.Flow).
	Queue string `yaml:"queue"`
	// Hours are the flow's business hours; outside them a new chat gets
	// AwayMessage and waits, or ends when EndOutOfHours is set.
	Hours         *HoursConfig `yaml:"hours"`
	AwayMessage   string       `yaml:"away_message"`
	EndOutOfHours bool         `yaml:"end_out_of_hours"`
	// Bot, when set, answers the flow's chats first, as bot:<flow id>,
	// and hands them to a queue when a person is needed.
	Bot *BotConfig `yaml:"bot"`
	// CSAT, when set, asks the customer to rate the chat (1 to 5) when an
	// agent closes it (helpline.CSAT); off when left out. Its fields may
	// be left empty for the defaults: csat: {} asks the default question.
	CSAT *CSATConfig `yaml:"csat"`
}

// CSATConfig is a flow's CSAT question: Question (a quick reply of 1 to
// 5), Thanks (said after a rating) and Wait, how long the chat waits for
// the answer after the agent closed it (default 2m).
type CSATConfig struct {
	Question string   `yaml:"question"`
	Thanks   string   `yaml:"thanks"`
	Wait     Duration `yaml:"wait"`
}

// HoursConfig is a weekly schedule in a time zone. Open lists periods
// written "mon-fri 09:00-17:30" or "sat 10:00-13:00" (days sun … sat);
// Holidays are closed dates written 2025-12-25.
type HoursConfig struct {
	TimeZone string   `yaml:"time_zone"`
	Open     []string `yaml:"open"`
	Holidays []string `yaml:"holidays"`
}

// flow returns the flow fc declares, or an error saying what is wrong.
func (fc FlowConfig) flow() (*helpline.Flow, error) {
	f := &helpline.Flow{ID: fc.ID, Name: fc.Name, Greeting: fc.Greeting, Queue: fc.Queue,
		AwayMessage: fc.AwayMessage, EndOutOfHours: fc.EndOutOfHours}
	if f.Name == "" {
		f.Name = f.ID
	}
	if fc.Bot != nil {
		if fc.ID == strings.TrimPrefix(helpline.OwnerCSAT, helpline.OwnerBot+":") {
			return nil, fmt.Errorf("a flow with a bot may not have the id %s: bot:%s asks the CSAT question", fc.ID, fc.ID)
		}
		f.Bot = fc.ID
	}
	if q := fc.CSAT; q != nil {
		if q.Wait < 0 {
			return nil, fmt.Errorf("csat: wait must not be negative")
		}
		f.CSAT = &helpline.CSAT{Question: q.Question, Thanks: q.Thanks, Wait: time.Duration(q.Wait)}
		*f.CSAT = f.CSAT.WithDefaults()
	}
	if fc.Queue != "" && !helpline.ValidName(fc.Queue) {
		return nil, fmt.Errorf("queue %q must be 1 to 64 letters, digits, - or _", fc.Queue)
	}
	if fc.Hours == nil {
		if fc.AwayMessage != "" || fc.EndOutOfHours {
			return nil, fmt.Errorf("away_message and end_out_of_hours need hours")
		}
		return f, nil
	}
	h, err := fc.Hours.hours()
	if err != nil {
		return nil, err
	}
	f.Hours = h
	return f, nil
}

// hours returns the business hours hc declares, checked.
func (hc *HoursConfig) hours() (*helpline.BusinessHours, error) {
	open, err := helpline.ParseOpenPeriods(hc.Open)
	if err == nil {
		h := &helpline.BusinessHours{TimeZone: hc.TimeZone, Open: open, Holidays: hc.Holidays}
		if err = h.Check(); err == nil {
			return h, nil
		}
	}
	return nil, fmt.Errorf("hours: %s", helpline.ErrorMessage(err))
}

package bot

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/helplinehq/helpline"
)

// Messages of the CSAT question.
const (
	// CSATRetryMessage asks again after an answer that is no rating;
	// the question's buttons follow it.
	CSATRetryMessage = "Sorry, please choose a number from 1 to 5."
	// csatTextHint follows the question for a customer whose client
	// shows no quick replies.
	csatTextHint = " Please answer with a number from 1 to 5."
)

// csatRetries is how many answers that are no rating get the question
// again; later ones are let be until the wait is over.
const csatRetries = 3

// survey serves a contact owned by helpline.OwnerCSAT: it asks the
// flow's CSAT question, takes the first customer answer that is a rating
// (a quick reply's title or a typed digit 1 to 5) — attribute, csat
// EVENT, thanks, end — asks again after an answer that is none, and ends
// the contact with no rating once the wait, counted from the owner
// change, is over. Everything it decides follows from the stored
// transcript and every write is idempotent, so that it is safe to repeat
// after a crash. It returns the deadline while the contact waits for an
// answer, and zero once it is ended or cannot be served.
func (r *Runner) survey(ctx context.Context, c *helpline.Contact) time.Time {
	start, part, err := r.surveyPart(ctx, c)
	if err != nil {
		r.log.Error("bot: reading the CSAT part of the transcript", "contact", c.ID, "err", err)
		return time.Time{}
	}
	q, err := r.csatOf(ctx, c)
	if err != nil {
		r.log.Error("bot: reading the contact's flow", "contact", c.ID, "err", err)
		return time.Time{}
	}
	due := start.Time.Add(q.Wait)
	late := !r.now().Before(due)
	s := &csatRun{r: r, c: c}
	if !late && !slices.ContainsFunc(part, func(it *helpline.Item) bool { return it.ClientToken == csatToken(c, "question") }) {
		if !s.send(ctx, s.question(q.Question), "question") {
			return time.Time{}
		}
	}
	bad := 0
	for _, it := range part {
		// An answer given within the wait counts even when the runner
		// looks late (it was down); one given after it does not.
		if !customerTurn(it) || !it.Time.Before(due) {
			continue
		}
		if rating, ok := helpline.ParseCSAT(customerText(it)); ok {
			var tr helpline.OwnerTransition
			json.Unmarshal([]byte(start.Content), &tr)
			s.rate(ctx, q, rating, tr.From)
			return time.Time{}
		}
		if bad++; !late && bad <= csatRetries && !s.send(ctx, s.question(CSATRetryMessage+" "+q.Question), "retry:"+strconv.FormatInt(it.Seq, 10)) {
			return time.Time{}
		}
	}
	if late {
		r.end(ctx, c)
		return time.Time{}
	}
	return due
}

// surveyPart returns the owner change that gave the contact to
// helpline.OwnerCSAT (the latest) and the items after it, in Seq order.
func (r *Runner) surveyPart(ctx context.Context, c *helpline.Contact) (*helpline.Item, []*helpline.Item, error) {
	const page = 50
	var part []*helpline.Item
	from := c.LastSeq
	for from > 0 {
		items, err := r.cfg.Store.FindItems(ctx, c.ID, helpline.ItemQuery{From: from, Backward: true, Limit: page})
		if err != nil {
			return nil, nil, err
		}
		for _, it := range items {
			if toCSAT(it) {
				slices.Reverse(part)
				return it, part, nil
			}
			part = append(part, it)
		}
		if len(items) < page {
			break
		}
		from = items[len(items)-1].Seq - 1
	}
	return nil, nil, helpline.Errorf(helpline.EINTERNAL, "bot: contact %s is owned by %s with no owner change to it", c.ID, c.Owner)
}

// toCSAT reports whether it is an owner change to helpline.OwnerCSAT.
func toCSAT(it *helpline.Item) bool {
	if it.Type != helpline.ItemEvent || it.ContentType != helpline.EventOwnerChanged {
		return false
	}
	var tr helpline.OwnerTransition
	return json.Unmarshal([]byte(it.Content), &tr) == nil && tr.To == helpline.OwnerCSAT
}

// csatOf returns the CSAT question of the contact's flow, with the
// defaults filled in; a flow that lost its question since the contact
// moved to it asks the default one.
func (r *Runner) csatOf(ctx context.Context, c *helpline.Contact) (helpline.CSAT, error) {
	inst, err := r.cfg.Store.FindInstanceByID(ctx, c.InstanceID)
	if err != nil {
		return helpline.CSAT{}, err
	}
	var q *helpline.CSAT
	if f := inst.FindFlow(c.FlowID); f != nil {
		q = f.CSAT
	}
	return q.WithDefaults(), nil
}

// end ends the contact as the agent's close would have.
func (r *Runner) end(ctx context.Context, c *helpline.Contact) bool {
	if err := r.cfg.Engine.EndContact(ctx, c.InstanceID, c.ID, helpline.EndAgentDisconnect); err != nil {
		r.log.Error("bot: ending the chat after the CSAT question", "contact", c.ID, "err", err)
		return false
	}
	return true
}

// csatToken is the ClientToken of one of the survey's writes to c.
func csatToken(c *helpline.Contact, what string) string { return "csat:" + c.ID + ":" + what }

// csatRun is one pass of survey over a contact.
type csatRun struct {
	r       *Runner
	c       *helpline.Contact
	session *helpline.Session
}

// question is the quick reply of 1 to 5 under title; a client that
// shows no quick replies gets it as text with a hint.
func (s *csatRun) question(title string) Reply {
	if !s.c.Supports(helpline.ContentInteractive) {
		return Text(title + csatTextHint)
	}
	return QuickReply(s.c, title, "1", "2", "3", "4", "5")
}

// send sends rep as the bot, idempotent on what, and reports whether the
// survey may go on: a chat that ended or changed owner meanwhile is no
// error, but stops it.
func (s *csatRun) send(ctx context.Context, rep Reply, what string) bool {
	if s.session == nil {
		var err error
		if s.session, err = s.r.botSession(ctx, s.c, helpline.OwnerCSAT); err != nil {
			if helpline.ErrorCode(err) != helpline.ECONFLICT {
				s.r.log.Error("bot: joining the chat for the CSAT question", "contact", s.c.ID, "err", err)
			}
			return false
		}
	}
	if _, err := s.r.cfg.Engine.SendMessage(ctx, s.session, rep.ContentType, rep.Content, csatToken(s.c, what)); err != nil {
		if code := helpline.ErrorCode(err); code != helpline.EFORBIDDEN && code != helpline.ECONFLICT {
			s.r.log.Error("bot: sending the CSAT question", "contact", s.c.ID, "what", what, "err", err)
		}
		return false
	}
	return true
}

// rate keeps the rating — the contact attribute, then the csat EVENT —
// thanks the customer and ends the contact.
func (s *csatRun) rate(ctx context.Context, q helpline.CSAT, rating int, owner string) {
	r, c := s.r, s.c
	if _, err := r.cfg.Store.UpdateContactAttributes(ctx, c.ID, map[string]string{helpline.CSATAttribute: strconv.Itoa(rating)}); err != nil {
		r.log.Error("bot: keeping the CSAT rating", "contact", c.ID, "err", err)
		return
	}
	content, _ := json.Marshal(helpline.CSATRating{Rating: rating, Owner: owner})
	it := &helpline.Item{ContactID: c.ID, ID: helpline.NewID(), Type: helpline.ItemEvent,
		ContentType: helpline.EventCSAT, Content: string(content),
		ParticipantID: helpline.SystemParticipantID(c.ID), DisplayName: helpline.SystemDisplayName,
		Role: helpline.RoleSystem, Time: r.now(), ClientToken: csatToken(c, "rating")}
	replayed, err := r.cfg.Store.AppendItem(ctx, it)
	if helpline.ErrorCode(err) == helpline.ECONFLICT {
		return // the chat ended meanwhile
	} else if err != nil {
		r.log.Error("bot: recording the CSAT rating", "contact", c.ID, "err", err)
		return
	}
	if !replayed {
		if err := r.cfg.Bus.Publish(context.WithoutCancel(ctx), helpline.NewItemEvent(it)); err != nil {
			r.log.Error("bot: publishing the CSAT rating", "contact", c.ID, "err", err)
		}
	}
	if s.send(ctx, Text(q.Thanks), "thanks") {
		r.end(ctx, c)
	}
}

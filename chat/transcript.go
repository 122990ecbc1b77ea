package chat

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

// Transcript values of TranscriptQuery.
const (
	ScanForward     = "FORWARD"
	ScanBackward    = "BACKWARD"
	SortAscending   = "ASCENDING"
	SortDescending  = "DESCENDING"
	defaultPageSize = 10
	maxPageSize     = 100
	maxMostRecent   = 100
	maxNextToken    = 1000
	// pageTokenTTL is how long a NextToken stays usable.
	pageTokenTTL = 24 * time.Hour
)

// Transcript returns one page of a contact's stored items (typing events are
// never stored, so never listed).
//
//   - ContactID, when set, must be the session's contact or its initial
//     contact; anything else is EINVALID (the participant API has no
//     not-found error for it).
//   - MaxResults 0 means 10; above 100 is EINVALID.
//   - The start position is at most one of StartID (that item), StartTime
//     (the first item at or after it scanning forward, the last at or
//     before it scanning backward) and MostRecent=N (the Nth most recent
//     item). The anchor item is included. An unknown StartID is EINVALID.
//   - ScanDirection defaults to BACKWARD without a start position and
//     FORWARD with one; SortOrder defaults to DESCENDING. The page is
//     collected in scan direction, then sorted by SortOrder.
//   - NextToken is set only when more items lie in the scan direction. It
//     is bound to the contact and direction and replaces the start
//     position; a tampered or expired token, or one of another contact or
//     direction, is EINVALID.
func (s *Service) Transcript(ctx context.Context, sess *helpline.Session, q helpline.TranscriptQuery) (*helpline.TranscriptPage, error) {
	contactID := sess.Contact.ID
	if q.ContactID != "" {
		if q.ContactID != sess.Contact.ID && q.ContactID != sess.Contact.InitialContactID {
			return nil, invalid("ContactId %s is not part of this chat.", q.ContactID)
		}
		contactID = q.ContactID
	}
	limit := q.MaxResults
	if limit == 0 {
		limit = defaultPageSize
	} else if limit < 0 || limit > maxPageSize {
		return nil, invalid("MaxResults must be 0 to %d.", maxPageSize)
	}
	if q.SortOrder == "" {
		q.SortOrder = SortDescending
	} else if q.SortOrder != SortAscending && q.SortOrder != SortDescending {
		return nil, invalid("SortOrder must be ASCENDING or DESCENDING.")
	}
	if q.MostRecent < 0 || q.MostRecent > maxMostRecent {
		return nil, invalid("StartPosition.MostRecent must be 0 to %d.", maxMostRecent)
	}
	anchors := 0
	for _, set := range []bool{q.StartID != "", !q.StartTime.IsZero(), q.MostRecent > 0} {
		if set {
			anchors++
		}
	}
	if anchors > 1 {
		return nil, invalid("StartPosition may set only one of Id, AbsoluteTime and MostRecent.")
	}
	switch q.ScanDirection {
	case "":
		q.ScanDirection = ScanBackward
		if anchors > 0 {
			q.ScanDirection = ScanForward
		}
	case ScanForward, ScanBackward:
	default:
		return nil, invalid("ScanDirection must be FORWARD or BACKWARD.")
	}
	backward := q.ScanDirection == ScanBackward

	iq := helpline.ItemQuery{Backward: backward, Limit: limit + 1}
	switch {
	case q.NextToken != "":
		from, err := s.readPageToken(q.NextToken, contactID, backward)
		if err != nil {
			return nil, err
		}
		iq.From = from
	case q.StartID != "":
		it, err := s.store.FindItemByID(ctx, contactID, q.StartID)
		if helpline.ErrorCode(err) == helpline.ENOTFOUND {
			return nil, invalid("StartPosition.Id %s is not an item of this chat.", q.StartID)
		} else if err != nil {
			return nil, err
		}
		iq.From = it.Seq
	case !q.StartTime.IsZero():
		iq.FromTime = q.StartTime
	case q.MostRecent > 0:
		recent, err := s.store.FindItems(ctx, contactID, helpline.ItemQuery{Backward: true, Limit: q.MostRecent})
		if err != nil {
			return nil, err
		}
		if len(recent) > 0 {
			iq.From = recent[len(recent)-1].Seq
		}
	}

	items, err := s.store.FindItems(ctx, contactID, iq)
	if err != nil {
		return nil, err
	}
	page := &helpline.TranscriptPage{InitialContactID: sess.Contact.InitialContactID}
	if len(items) > limit {
		page.NextToken = s.pageToken(contactID, backward, items[limit].Seq)
		items = items[:limit]
	}
	// Scan order is ascending Seq forward and descending backward.
	if backward != (q.SortOrder == SortDescending) {
		slices.Reverse(items)
	}
	page.Items = items
	return page, nil
}

// pageToken encodes where the next page starts: contact, direction and the
// first Seq of the next page.
func (s *Service) pageToken(contactID string, backward bool, next int64) string {
	dir := "f"
	if backward {
		dir = "b"
	}
	return s.tokens.Sign(helpline.PageToken, dir+strconv.FormatInt(next, 10)+":"+contactID, s.now().Add(pageTokenTTL))
}

func (s *Service) readPageToken(token, contactID string, backward bool) (int64, error) {
	bad := invalid("NextToken is invalid or expired.")
	if len(token) > maxNextToken {
		return 0, bad
	}
	subject, _, err := s.tokens.Verify(helpline.PageToken, token, s.now())
	if err != nil {
		return 0, bad
	}
	pos, cid, ok := strings.Cut(subject, ":")
	if !ok || cid != contactID || len(pos) < 2 {
		return 0, bad
	}
	if (pos[0] == 'b') != backward {
		return 0, invalid("NextToken belongs to a scan in the other direction.")
	}
	seq, err := strconv.ParseInt(pos[1:], 10, 64)
	if err != nil || seq < 1 {
		return 0, bad
	}
	return seq, nil
}

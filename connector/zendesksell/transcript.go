package zendesksell

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/helplinehq/helpline"
)

// render turns a batch's items into transcript lines such as
// "[10:42:07] Ada (customer): Where is my order?". Messages, attachments
// and the joins, leaves and end of the chat make lines; receipts and
// other events make none.
func render(b *helpline.MirrorBatch) []string {
	names := map[string]string{}
	for _, p := range b.Participants {
		names[p.ID] = p.DisplayName
	}
	var lines []string
	for _, it := range b.Items {
		who := it.DisplayName
		if who == "" {
			who = names[it.ParticipantID]
		}
		if who == "" {
			who = "System"
		}
		author := fmt.Sprintf("[%s] %s (%s)", it.Time.UTC().Format("15:04:05"), who, roleName(it.Role))
		switch it.Type {
		case helpline.ItemMessage:
			lines = append(lines, author+": "+it.Content)
		case helpline.ItemAttachment:
			var files []string
			for _, a := range it.Attachments {
				files = append(files, a.Name)
			}
			lines = append(lines, author+" sent "+strings.Join(files, ", "))
		case helpline.ItemEvent:
			switch it.ContentType {
			case helpline.EventParticipantJoined:
				lines = append(lines, author+" joined")
			case helpline.EventParticipantLeft:
				lines = append(lines, author+" left")
			case helpline.EventChatEnded:
				lines = append(lines, fmt.Sprintf("[%s] The chat ended", it.Time.UTC().Format("15:04:05")))
			}
		}
	}
	return lines
}

func roleName(role string) string {
	switch role {
	case helpline.RoleCustomer:
		return "customer"
	case helpline.RoleAgent:
		return "agent"
	case helpline.RoleBot:
		return "bot"
	case helpline.RoleSupervisor:
		return "supervisor"
	}
	return "system"
}

// marker ends every batch written: "— helpline <contact> seq <a>-<b>".
func marker(contactID string, first, last int64) string {
	return fmt.Sprintf("%s%d", markerPrefix(contactID, first), last)
}

func markerPrefix(contactID string, first int64) string {
	return fmt.Sprintf("— helpline %s seq %d-", contactID, first)
}

// landedThrough finds a marker starting with prefix in text and returns
// the last Seq it names, or -1. A retry may carry more items than the
// batch that landed, so the range's end is read back, not assumed.
func landedThrough(text, prefix string) int64 {
	for rest := text; ; {
		i := strings.Index(rest, prefix)
		if i < 0 {
			return -1
		}
		rest = rest[i+len(prefix):]
		end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if end < 0 {
			end = len(rest)
		}
		if n, err := strconv.ParseInt(rest[:end], 10, 64); err == nil {
			return n
		}
	}
}

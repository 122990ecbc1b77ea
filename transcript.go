package helpline

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Author returns the display name and role of an item's sender, taken
// from the item or, where it lacks them, from the batch's participants.
func (b *MirrorBatch) Author(it *Item) (name, role string) {
	name, role = it.DisplayName, it.Role
	if name != "" && role != "" {
		return name, role
	}
	for _, p := range b.Participants {
		if p.ID == it.ParticipantID {
			return cmpOr(name, p.DisplayName), cmpOr(role, p.Role)
		}
	}
	return name, role
}

// TranscriptLine renders an item as one line of a transcript written into
// an outside system, such as "[10:42:07] Ada (customer): Where is my
// order?". Messages, attachments (by file name), joins, leaves, a bot's
// handoff (with its summary, then a line with the intents and entities
// the bot saw and the items of its part), an agent's handback to the bot,
// the customer's CSAT rating and the end of the chat make
// lines; other items (typing, receipts) make none, and ok is false. A
// message's or summary's own line breaks are kept; an interactive
// message (a quick reply) is its title and its options, and the answer
// to one (a tapped option) the option's title.
func TranscriptLine(it *Item, name, role string) (line string, ok bool) {
	stamp := "[" + it.Time.UTC().Format("15:04:05") + "] "
	who := stamp + cmpOr(name, "Unknown") + " (" + roleWord(role) + ")"
	switch it.Type {
	case ItemMessage:
		if it.ContentType == ContentInteractive || it.ContentType == ContentInteractiveResponse {
			return who + ": " + interactiveText(it.Content), true
		}
		return who + ": " + it.Content, true
	case ItemAttachment:
		files := make([]string, len(it.Attachments))
		for i, a := range it.Attachments {
			files[i] = a.Name
		}
		return who + " sent " + strings.Join(files, ", "), true
	case ItemEvent:
		switch it.ContentType {
		case EventParticipantJoined:
			return who + " joined the chat", true
		case EventParticipantLeft:
			return who + " left the chat", true
		case EventChatEnded:
			return stamp + "The chat ended", true
		case EventHandoff:
			var h HandoffContext
			if json.Unmarshal([]byte(it.Content), &h) != nil {
				return "", false
			}
			line := stamp + "The bot handed the chat to queue " + h.Queue + " (" + strings.ReplaceAll(h.Reason, "_", " ") + ")"
			if h.Summary != "" {
				line += ": " + h.Summary
			}
			return line + handoffSeen(h), true
		case EventHandback:
			var h HandbackContext
			if json.Unmarshal([]byte(it.Content), &h) != nil {
				return "", false
			}
			line := stamp + strings.TrimPrefix(h.Agent, OwnerAgent+":") + " handed the chat back to the bot"
			if h.Actor != "" && h.Actor != h.Agent {
				line += " (by " + h.Actor + ")"
			}
			return line, true
		case EventCSAT:
			var r CSATRating
			if json.Unmarshal([]byte(it.Content), &r) != nil {
				return "", false
			}
			return fmt.Sprintf("%sThe customer rated the chat %d of 5", stamp, r.Rating), true
		}
	}
	return "", false
}

// interactiveText renders an Amazon Connect interactive message as a
// reader of a helpdesk wants it: its title and, in brackets, the options
// it offered ("How was it? [1 | 2 | 3]"); content that is no such message
// is kept as it is.
func interactiveText(content string) string {
	var msg struct {
		Data struct {
			Content struct {
				Title    string `json:"title"`
				Elements []struct {
					Title string `json:"title"`
				} `json:"elements"`
			} `json:"content"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(content), &msg) != nil || msg.Data.Content.Title == "" {
		return content
	}
	text := msg.Data.Content.Title
	var options []string
	for _, e := range msg.Data.Content.Elements {
		options = append(options, e.Title)
	}
	if len(options) > 0 {
		text += " [" + strings.Join(options, " | ") + "]"
	}
	return text
}

// handoffSeen is the line under a handoff's summary that says what the
// bot saw — its intents and entities — and which items were its part of
// the chat, so that an agent reading a helpdesk finds them; "" when the
// handoff names none of them.
func handoffSeen(h HandoffContext) string {
	var parts []string
	if len(h.Intents) > 0 {
		words := make([]string, len(h.Intents))
		for i, in := range h.Intents {
			words[i] = strings.ReplaceAll(in, "_", " ")
		}
		parts = append(parts, "Intents: "+strings.Join(words, ", ")+".")
	}
	if len(h.Entities) > 0 {
		keys := make([]string, 0, len(h.Entities))
		for k := range h.Entities {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			keys[i] = strings.ReplaceAll(k, "_", " ") + " " + h.Entities[k]
		}
		parts = append(parts, "Entities: "+strings.Join(keys, ", ")+".")
	}
	if h.FirstSeq > 0 && h.LastSeq >= h.FirstSeq {
		parts = append(parts, fmt.Sprintf("The bot's part: items %d-%d.", h.FirstSeq, h.LastSeq))
	}
	if len(parts) == 0 {
		return ""
	}
	return "\n" + strings.Join(parts, " ")
}

// roleWord is a role as a transcript line names it.
func roleWord(role string) string {
	switch role {
	case RoleCustomer:
		return "customer"
	case RoleAgent:
		return "agent"
	case RoleBot:
		return "bot"
	case RoleSupervisor:
		return "supervisor"
	}
	return "system"
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

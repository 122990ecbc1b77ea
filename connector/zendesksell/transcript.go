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
	var lines []string
	for _, it := range b.Items {
		name, role := b.Author(it)
		if line, ok := helpline.TranscriptLine(it, name, role); ok {
			lines = append(lines, line)
		}
	}
	return lines
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

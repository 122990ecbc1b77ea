package zendesksell

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"

	"github.com/helplinehq/helpline"
)

// render turns a batch's items into transcript lines such as
// "[10:42:07] Ada (customer): Where is my order?". Messages, attachments
// and the joins, leaves and end of the chat make lines; receipts and
// other events make none. A message of several lines continues on lines
// indented by four spaces, so that every line Helpline writes starts
// either with "[" or with a space, or is a marker: no chat content can
// produce a line that reads as a marker.
func render(b *helpline.MirrorBatch) []string {
	var lines []string
	for _, it := range b.Items {
		name, role := b.Author(it)
		if line, ok := helpline.TranscriptLine(it, name, role); ok {
			lines = append(lines, continuation.Replace(line))
		}
	}
	return lines
}

// continuation indents the continuation lines of a multi-line message;
// a lone carriage return counts as a line break, as it does to readers.
var continuation = strings.NewReplacer("\r\n", "\n    ", "\r", "\n    ", "\n", "\n    ")

// marker is the line that ends every batch written:
// "— helpline <contact> seq <a>-<b> #<mac>", where mac is the first 16
// hex digits of HMAC-SHA256, under the installation's marker key, of the
// connector's name, the contact id and the range. Without the key nobody
// can write a marker the connector accepts, whatever the chat says.
func (c *Connector) marker(contactID string, first, last int64) string {
	return "— helpline " + contactID + " seq " + strconv.FormatInt(first, 10) + "-" + strconv.FormatInt(last, 10) +
		" #" + c.markerMAC(contactID, first, last)
}

func (c *Connector) markerMAC(contactID string, first, last int64) string {
	m := hmac.New(sha256.New, c.markerKey)
	m.Write([]byte("zendesksell marker\x00" + c.name + "\x00" + contactID + "\x00" +
		strconv.FormatInt(first, 10) + "\x00" + strconv.FormatInt(last, 10)))
	return hex.EncodeToString(m.Sum(nil))[:16]
}

// leadLine is the first line of the description of a lead created for
// a contact whose customer had no email:
// "— helpline lead of <contact> #<mac>", the mac as a marker's, over the
// connector's name and the contact id. A retry of the create looks for
// it, so a lead whose create answer was lost is adopted, and no other
// text can pass for it.
func (c *Connector) leadLine(contactID string) string {
	m := hmac.New(sha256.New, c.markerKey)
	m.Write([]byte("zendesksell lead\x00" + c.name + "\x00" + contactID))
	return "— helpline lead of " + contactID + " #" + hex.EncodeToString(m.Sum(nil))[:16]
}

// markerRE matches a whole marker line.
var markerRE = regexp.MustCompile(`^— helpline (\S+) seq (\d+)-(\d+) #([0-9a-f]{16})$`)

// landedThrough reads line as a marker of contactID's batch starting at
// Seq first and returns the last Seq it names, or -1 when line is not
// such a marker or its MAC is not the connector's. A retry may carry more
// items than the batch that landed, so the range's end is read back, not
// assumed.
func (c *Connector) landedThrough(line, contactID string, first int64) int64 {
	m := markerRE.FindStringSubmatch(line)
	if m == nil || m[1] != contactID || m[2] != strconv.FormatInt(first, 10) {
		return -1
	}
	last, err := strconv.ParseInt(m[3], 10, 64)
	if err != nil || last < first || !hmac.Equal([]byte(m[4]), []byte(c.markerMAC(contactID, first, last))) {
		return -1
	}
	return last
}

// lastLine is text's last line, trailing blank space aside.
func lastLine(text string) string {
	text = strings.TrimRight(text, " \t\r\n")
	return text[strings.LastIndexByte(text, '\n')+1:]
}

package chat

import (
	"mime"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/helplinehq/helpline"
)

// Limits from the Amazon Connect API models.
const (
	maxInstanceID       = 100
	maxContactFlowID    = 500
	maxDisplayName      = 256
	maxClientToken      = 500
	maxCustomerID       = 128
	maxContactID        = 256
	maxAttributesBytes  = 32768
	maxContentType      = 100
	maxContent          = 16384 // SendMessage/SendEvent Content, in characters
	maxInitialContent   = 16384 // StartChatContact InitialMessage.Content, in bytes
	maxAttachmentName   = 256
	maxAttachmentType   = 255
	minChatMinutes      = 60
	maxChatMinutes      = 10080
	minURLExpirySeconds = 5
	maxURLExpirySeconds = 300
)

// chars counts a string the way the API models' length limits do: in
// Unicode code points.
func chars(s string) int { return utf8.RuneCountInString(s) }

func invalid(format string, args ...any) error {
	return helpline.Errorf(helpline.EINVALID, format, args...)
}

// checkLen returns EINVALID unless s has min..max characters.
func checkLen(field, s string, min, max int) error {
	if n := chars(s); n < min || n > max {
		if min > 0 && n == 0 {
			return invalid("%s is required.", field)
		}
		return invalid("%s must be %d to %d characters long.", field, min, max)
	}
	return nil
}

// messageTypes are the content types a participant may send with
// SendMessage, with the largest Content each allows in characters.
// Interactive messages are sent by bots and agents only.
var messageTypes = map[string]int{
	helpline.ContentPlain:               1024,
	helpline.ContentMarkdown:            1024,
	helpline.ContentJSON:                12000,
	helpline.ContentInteractiveResponse: 12288,
	helpline.ContentInteractive:         maxContent,
}

// supportableTypes are the values StartChat accepts in
// SupportedContentTypes.
var supportableTypes = map[string]bool{
	helpline.ContentPlain:               true,
	helpline.ContentMarkdown:            true,
	helpline.ContentJSON:                true,
	helpline.ContentInteractive:         true,
	helpline.ContentInteractiveResponse: true,
}

// checkAttributes enforces Connect's rules on contact attributes: keys of
// letters, digits, dash and underscore, and at most 32,768 UTF-8 bytes of
// keys and values together.
func checkAttributes(attrs map[string]string) error {
	total := 0
	for k, v := range attrs {
		if k == "" {
			return invalid("Attribute names must not be empty.")
		}
		for _, r := range k {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return invalid("Attribute name %q may contain only letters, digits, '-' and '_'.", k)
			}
		}
		if !utf8.ValidString(v) {
			return invalid("Attribute %q is not valid UTF-8.", k)
		}
		total += len(k) + len(v)
	}
	if total > maxAttributesBytes {
		return invalid("Attributes exceed %d bytes.", maxAttributesBytes)
	}
	return nil
}

// attachmentTypes maps each allowed file extension to the MIME types a file
// with it may declare.
var attachmentTypes = map[string][]string{
	".csv":  {"text/csv"},
	".doc":  {"application/msword"},
	".docx": {"application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
	".heic": {"image/heic"},
	".jfif": {"image/jpeg", "image/pjpeg"},
	".jpeg": {"image/jpeg"},
	".jpg":  {"image/jpeg"},
	".mov":  {"video/quicktime"},
	".mp4":  {"video/mp4"},
	".pdf":  {"application/pdf"},
	".png":  {"image/png"},
	".ppt":  {"application/vnd.ms-powerpoint"},
	".pptx": {"application/vnd.openxmlformats-officedocument.presentationml.presentation"},
	".rtf":  {"application/rtf", "text/rtf"},
	".txt":  {"text/plain"},
	".wav":  {"audio/wav", "audio/x-wav", "audio/vnd.wave"},
	".xls":  {"application/vnd.ms-excel"},
	".xlsx": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
}

// mediaType returns the lower-case media type of a Content-Type value
// without its parameters, or "" if it does not parse.
func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return mt
}

// checkAttachmentType returns EINVALID unless name has an allowed extension
// and contentType is a MIME type that extension allows.
func checkAttachmentType(name, contentType string) error {
	ext := strings.ToLower(path.Ext(name))
	allowed, ok := attachmentTypes[ext]
	if !ok {
		return invalid("Attachment type %q is not supported.", ext)
	}
	mt := mediaType(contentType)
	for _, a := range allowed {
		if mt == a {
			return nil
		}
	}
	return invalid("Content type %q does not match a %s file.", contentType, ext)
}

package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/helplinehq/helpline/connector/zendesk/zendesktest"
)

// A file the customer sends in the chat lands in the Zendesk ticket as an
// attachment of the comment holding its line, with the same bytes.
func TestServeUploadsAttachmentsToZendesk(t *testing.T) {
	fake := zendesktest.NewServer(zendesktest.Options{})
	defer fake.Close()
	s := zendeskServe(t, fake.URL, "")
	contactID, customer, _ := startMirroredChat(t, s)

	file := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("receipt "), 4096)...)
	var up struct {
		AttachmentId   string
		UploadMetadata struct {
			Url              string
			HeadersToInclude map[string]string
		}
	}
	if code := participantCall(t, s.url(), "/participant/start-attachment-upload", customer.token, map[string]any{
		"ContentType": "application/pdf", "AttachmentSizeInBytes": len(file), "AttachmentName": "receipt.pdf", "ClientToken": "up-1",
	}, &up); code != 200 {
		t.Fatalf("StartAttachmentUpload: %d", code)
	}
	req, _ := http.NewRequest(http.MethodPut, up.UploadMetadata.Url, bytes.NewReader(file))
	for k, v := range up.UploadMetadata.HeadersToInclude {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("upload: %v %v", res, err)
	}
	res.Body.Close()
	if code := participantCall(t, s.url(), "/participant/complete-attachment-upload", customer.token,
		map[string]any{"AttachmentIds": []string{up.AttachmentId}, "ClientToken": "done-1"}, nil); code != 200 {
		t.Fatalf("CompleteAttachmentUpload: %d", code)
	}

	var got zendesktest.Comment
	waitFor(t, "the attachment in the ticket", func() bool {
		tk, ok := fake.TicketByExternalID(contactID)
		for _, c := range tk.Comments {
			if ok && strings.Contains(c.Body, "Ada (customer) sent receipt.pdf") {
				got = c
				return true
			}
		}
		return false
	})
	if len(got.Attachments) != 1 || got.Attachments[0].FileName != "receipt.pdf" || got.Attachments[0].ContentType != "application/pdf" ||
		!bytes.Equal(got.Attachments[0].Data, file) {
		t.Errorf("comment %q has attachments %+v; want receipt.pdf with the chat's bytes", got.Body, got.Attachments)
	}
}

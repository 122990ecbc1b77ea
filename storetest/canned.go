package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

func testCannedResponses(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	s := open(t)
	for _, id := range []string{"i1", "i2"} {
		if err := s.SaveInstance(ctx, &helpline.Instance{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	canned := func(instance, id, shortcut string) *helpline.CannedResponse {
		return &helpline.CannedResponse{InstanceID: instance, ID: id, Shortcut: shortcut, Text: "Text of " + shortcut,
			CreatedAt: at(0), UpdatedAt: at(0)}
	}
	for _, c := range []*helpline.CannedResponse{canned("i1", "c1", "refund"), canned("i1", "c2", "hello"), canned("i2", "c1", "refund")} {
		if err := s.CreateCannedResponse(ctx, c, 3); err != nil {
			t.Fatalf("CreateCannedResponse(%s/%s): %v", c.InstanceID, c.ID, err)
		}
	}
	list, err := s.FindCannedResponses(ctx, "i1")
	if err != nil || len(list) != 2 || list[0].Shortcut != "hello" || list[1].Shortcut != "refund" ||
		list[1].Text != "Text of refund" || !list[1].CreatedAt.Equal(at(0)) {
		t.Fatalf("FindCannedResponses(i1) = %+v, %v; want hello, refund", list, err)
	}

	for _, tc := range []struct {
		name string
		c    *helpline.CannedResponse
		code string
	}{
		{"shortcut in use", canned("i1", "c3", "hello"), helpline.ECONFLICT},
		{"id in use", canned("i1", "c1", "other"), helpline.ECONFLICT},
		{"unknown instance", canned("nope", "c1", "x"), helpline.ENOTFOUND},
		{"no id", canned("i1", "", "x"), helpline.EINVALID},
		{"bad shortcut", canned("i1", "c4", "Has Space"), helpline.EINVALID},
		{"empty text", &helpline.CannedResponse{InstanceID: "i1", ID: "c5", Shortcut: "e"}, helpline.EINVALID},
	} {
		if err := s.CreateCannedResponse(ctx, tc.c, 0); helpline.ErrorCode(err) != tc.code {
			t.Errorf("%s: CreateCannedResponse = %v, want %s", tc.name, err, tc.code)
		}
	}
	if err := s.CreateCannedResponse(ctx, canned("i1", "c6", "third"), 3); err != nil {
		t.Fatalf("third canned response: %v", err)
	}
	if err := s.CreateCannedResponse(ctx, canned("i1", "c7", "fourth"), 3); helpline.ErrorCode(err) != helpline.EQUOTA {
		t.Errorf("a fourth canned response with a quota of 3: %v, want quota", err)
	}

	upd := canned("i1", "c1", "refunds")
	upd.Text, upd.UpdatedAt = "New text", at(time.Minute)
	if err := s.UpdateCannedResponse(ctx, upd); err != nil {
		t.Fatalf("UpdateCannedResponse: %v", err)
	}
	if err := s.UpdateCannedResponse(ctx, canned("i1", "c1", "hello")); helpline.ErrorCode(err) != helpline.ECONFLICT {
		t.Errorf("UpdateCannedResponse to a shortcut in use: %v, want conflict", err)
	}
	if err := s.UpdateCannedResponse(ctx, canned("i2", "c2", "x")); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("UpdateCannedResponse of another instance's: %v, want not_found", err)
	}
	if err := s.DeleteCannedResponse(ctx, "i2", "c2"); helpline.ErrorCode(err) != helpline.ENOTFOUND {
		t.Errorf("DeleteCannedResponse of another instance's: %v, want not_found", err)
	}
	if err := s.DeleteCannedResponse(ctx, "i1", "c2"); err != nil {
		t.Fatalf("DeleteCannedResponse: %v", err)
	}
	list, _ = s.FindCannedResponses(ctx, "i1")
	got := map[string]string{}
	for _, c := range list {
		got[c.Shortcut] = c.Text
	}
	if len(got) != 2 || got["refunds"] != "New text" || got["third"] == "" || !list[0].UpdatedAt.Equal(at(time.Minute)) {
		t.Errorf("after update and delete: %+v; want refunds (updated) and third", list)
	}
	if other, _ := s.FindCannedResponses(ctx, "i2"); len(other) != 1 || other[0].Shortcut != "refund" || other[0].Text != "Text of refund" {
		t.Errorf("i2's canned responses changed: %+v", other)
	}
}

package connectapi_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connectapi"
)

func startInput(instance, flow string) *connect.StartChatContactInput {
	return &connect.StartChatContactInput{
		InstanceId:         aws.String(instance),
		ContactFlowId:      aws.String(flow),
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String("Casey")},
	}
}

// An instance's secret never verifies a request for another instance,
// even when both use the same access key id and the other instance's key
// was used a moment before.
func TestSignatureSecretIsPerInstance(t *testing.T) {
	e := newEnv(t, func(c *connectapi.Config) { c.Region = "" })
	const otherSecret = "secret-key-of-inst-2"
	err := e.db.SaveInstance(context.Background(), &helpline.Instance{
		ID: "inst-2", Name: "Other shop",
		Flows:      []helpline.Flow{{ID: "flow-2", Name: "Plain"}},
		AccessKeys: []helpline.AccessKey{{ID: accessKey, Secret: otherSecret}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	other := e.client(accessKey, otherSecret)
	if _, err := other.StartChatContact(ctx, startInput("inst-2", "flow-2")); err != nil {
		t.Fatalf("instance 2 with its own secret: %v", err)
	}
	_, err = other.StartChatContact(ctx, startInput(instanceID, "flow-plain"))
	if err == nil {
		t.Fatal("instance 2's secret started a chat on instance 1")
	}
	if code, status := apiError(t, err); code != "InvalidSignatureException" || status != 403 {
		t.Errorf("instance 2's secret on instance 1: %s %d, want InvalidSignatureException 403", code, status)
	}
	if _, err := e.client(accessKey, secretKey).StartChatContact(ctx, startInput(instanceID, "flow-plain")); err != nil {
		t.Errorf("instance 1 with its own secret: %v", err)
	}
}

// A rotated secret stops working at once, and the new one works.
func TestSignatureAfterRotation(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	old := e.client(accessKey, secretKey)
	if _, err := old.StartChatContact(ctx, startInput(instanceID, "flow-plain")); err != nil {
		t.Fatalf("before rotation: %v", err)
	}
	in, err := e.db.FindInstanceByID(ctx, instanceID)
	if err != nil {
		t.Fatal(err)
	}
	const rotated = "rotated-secret-of-inst-1"
	in.AccessKeys[0].Secret = rotated
	if err := e.db.SaveInstance(ctx, in); err != nil {
		t.Fatal(err)
	}
	_, err = old.StartChatContact(ctx, startInput(instanceID, "flow-plain"))
	if err == nil {
		t.Fatal("the old secret still works after rotation")
	}
	if code, status := apiError(t, err); code != "InvalidSignatureException" || status != 403 {
		t.Errorf("old secret: %s %d, want InvalidSignatureException 403", code, status)
	}
	if _, err := e.client(accessKey, rotated).StartChatContact(ctx, startInput(instanceID, "flow-plain")); err != nil {
		t.Errorf("the new secret: %v", err)
	}
}

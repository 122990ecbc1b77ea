package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/helplinehq/helpline"
)

func testInstance(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	t.Run("RoundTrip", func(t *testing.T) {
		s := open(t)
		b := &helpline.Instance{
			ID:         "b-instance",
			Name:       "Shop B",
			Flows:      []helpline.Flow{{ID: "f1", Name: "Default", Greeting: "Hi!"}, {ID: "f2", Name: "Sales"}},
			AccessKeys: []helpline.AccessKey{{ID: "AKIDB", Secret: "secret-b"}},
		}
		a := &helpline.Instance{ID: "a-instance", Name: "Shop A", Flows: []helpline.Flow{{ID: "f1", Name: "Default"}}}
		for _, in := range []*helpline.Instance{b, a} {
			if err := s.SaveInstance(ctx, in); err != nil {
				t.Fatalf("SaveInstance(%s): %v", in.ID, err)
			}
		}
		got, err := s.FindInstanceByID(ctx, b.ID)
		if err != nil {
			t.Fatalf("FindInstanceByID: %v", err)
		}
		if !reflect.DeepEqual(got, b) {
			t.Errorf("FindInstanceByID = %+v, want %+v", got, b)
		}
		all, err := s.FindInstances(ctx)
		if err != nil {
			t.Fatalf("FindInstances: %v", err)
		}
		if len(all) != 2 || !reflect.DeepEqual(all[0], a) || !reflect.DeepEqual(all[1], b) {
			t.Errorf("FindInstances = %+v, want [%+v %+v] ordered by id", all, a, b)
		}
	})
	t.Run("SaveReplaces", func(t *testing.T) {
		s := open(t)
		in := &helpline.Instance{ID: "i", Name: "Old", Flows: []helpline.Flow{{ID: "f1"}}}
		if err := s.SaveInstance(ctx, in); err != nil {
			t.Fatal(err)
		}
		in2 := &helpline.Instance{ID: "i", Name: "New", AccessKeys: []helpline.AccessKey{{ID: "K", Secret: "S"}}}
		if err := s.SaveInstance(ctx, in2); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindInstanceByID(ctx, "i")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, in2) {
			t.Errorf("after replace: %+v, want %+v", got, in2)
		}
		if all, err := s.FindInstances(ctx); err != nil || len(all) != 1 {
			t.Errorf("FindInstances = %d instances, %v; want 1", len(all), err)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.FindInstanceByID(ctx, "missing")
		wantNotFound(t, "FindInstanceByID", err, helpline.ResourceInstance, "missing")
	})
}

func testSecret(t *testing.T, open func(t *testing.T) helpline.Store) {
	ctx := context.Background()
	constant := func(v string) func() ([]byte, error) {
		return func() ([]byte, error) { return []byte(v), nil }
	}
	t.Run("GetOrCreate", func(t *testing.T) {
		s := open(t)
		first, err := s.Secret(ctx, "tokens", constant("one"))
		if err != nil || string(first) != "one" {
			t.Fatalf("first Secret = %q, %v; want the generated value", first, err)
		}
		again, err := s.Secret(ctx, "tokens", constant("two"))
		if err != nil || string(again) != "one" {
			t.Errorf("second Secret = %q, %v; want the stored value %q", again, err, "one")
		}
		other, err := s.Secret(ctx, "other", constant("three"))
		if err != nil || string(other) != "three" {
			t.Errorf("Secret under another name = %q, %v; want its own value", other, err)
		}
	})
	t.Run("GenError", func(t *testing.T) {
		s := open(t)
		boom := errors.New("no entropy")
		if _, err := s.Secret(ctx, "k", func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Fatalf("Secret with failing gen: %v, want %v", err, boom)
		}
		got, err := s.Secret(ctx, "k", constant("later"))
		if err != nil || string(got) != "later" {
			t.Errorf("Secret after a failed gen = %q, %v; want a fresh value", got, err)
		}
	})
	t.Run("ConcurrentFirstUse", func(t *testing.T) {
		s := open(t)
		const n = 20
		results := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = s.Secret(ctx, "race", constant(fmt.Sprint("value-", i)))
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("caller %d: %v", i, errs[i])
			}
			if !bytes.Equal(results[i], results[0]) {
				t.Fatalf("caller %d got %q, caller 0 got %q; all must get the stored value", i, results[i], results[0])
			}
		}
		stored, err := s.Secret(ctx, "race", constant("late"))
		if err != nil || !bytes.Equal(stored, results[0]) {
			t.Errorf("Secret afterwards = %q, %v; want %q", stored, err, results[0])
		}
	})
}

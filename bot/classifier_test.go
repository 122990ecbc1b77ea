package bot

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// defaultIntents decodes the shipped intents file as the app does.
func defaultIntents(t testing.TB) *IntentSet {
	t.Helper()
	var set IntentSet
	dec := yaml.NewDecoder(strings.NewReader(string(DefaultIntents)))
	dec.KnownFields(true)
	if err := dec.Decode(&set); err != nil {
		t.Fatal(err)
	}
	return &set
}

func defaultClassifier(t testing.TB) *Classifier {
	t.Helper()
	c, err := NewClassifier(defaultIntents(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The shipped intents are exactly the ones the issue names, each with
// enough varied phrases to learn from.
func TestDefaultIntents(t *testing.T) {
	set := defaultIntents(t)
	var names []string
	for _, in := range set.Intents {
		names = append(names, in.Name)
		if len(in.Examples) < 25 {
			t.Errorf("%s has %d training phrases, want at least 25", in.Name, len(in.Examples))
		}
	}
	want := "greeting order_status return_refund cancel_order change_address shipping_info payment_issue product_question human_agent goodbye"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("intents %q, want %q", got, want)
	}
}

type labelled struct{ intent, text string }

func heldout(t testing.TB) []labelled {
	t.Helper()
	f, err := os.Open("testdata/heldout.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []labelled
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		intent, text, ok := strings.Cut(sc.Text(), "\t")
		if !ok || intent == "" || strings.TrimSpace(text) == "" {
			t.Fatalf("heldout.tsv:%d: not intent<TAB>utterance", line)
		}
		out = append(out, labelled{intent, text})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The classifier trained on the shipped phrases labels at least 90 % of
// the held-out utterances right; none of them is a training phrase. The
// test logs the accuracy and the confusion matrix (go test -v -run
// TestHeldOutAccuracy).
func TestHeldOutAccuracy(t *testing.T) {
	set := defaultIntents(t)
	trained := map[string]bool{}
	for _, in := range set.Intents {
		for _, ex := range in.Examples {
			trained[strings.ToLower(strings.TrimSpace(ex))] = true
		}
	}
	c := defaultClassifier(t)
	cases := heldout(t)
	if len(cases) < 200 {
		t.Fatalf("%d held-out utterances, want at least 200", len(cases))
	}
	labels := append(c.Intents(), Fallback)
	pos := map[string]int{}
	for i, l := range labels {
		pos[l] = i
	}
	matrix := make([][]int, len(labels))
	for i := range matrix {
		matrix[i] = make([]int, len(labels))
	}
	right := 0
	for _, tc := range cases {
		if trained[strings.ToLower(strings.TrimSpace(tc.text))] {
			t.Errorf("held-out %q is also a training phrase", tc.text)
		}
		want, ok := pos[tc.intent]
		if !ok {
			t.Fatalf("held-out label %q is no intent", tc.intent)
		}
		r := c.Classify(tc.text)
		matrix[want][pos[r.Intent]]++
		if r.Intent == tc.intent {
			right++
		} else {
			t.Logf("miss: %q is %s, classified %s (%.3f)", tc.text, tc.intent, r.Intent, r.Confidence)
		}
	}
	accuracy := float64(right) / float64(len(cases))
	var b strings.Builder
	fmt.Fprintf(&b, "accuracy %d/%d = %.1f %%\nconfusion matrix (rows: label, columns: classified)\n", right, len(cases), accuracy*100)
	fmt.Fprintf(&b, "%-17s", "")
	for _, l := range labels {
		fmt.Fprintf(&b, " %5.5s", l)
	}
	b.WriteByte('\n')
	for i, row := range matrix[:len(labels)-1] {
		fmt.Fprintf(&b, "%-17s", labels[i])
		for _, n := range row {
			fmt.Fprintf(&b, " %5d", n)
		}
		b.WriteByte('\n')
	}
	t.Log("\n" + b.String())
	if accuracy < 0.90 {
		t.Errorf("accuracy %.1f %%, want at least 90 %%", accuracy*100)
	}
}

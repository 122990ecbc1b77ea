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

// Paraphrases of each intent, none of them a training phrase.
func TestParaphrases(t *testing.T) {
	c := defaultClassifier(t)
	for intent, texts := range map[string][]string{
		"greeting":         {"hello friend", "hey there, good morning"},
		"order_status":     {"where has my parcel got to", "what's the status of order 77812"},
		"return_refund":    {"i would like to return these boots", "how do i get a refund"},
		"cancel_order":     {"please cancel my recent order", "i want to cancel order 12345"},
		"change_address":   {"i need to update the delivery address", "my shipping address is wrong"},
		"shipping_info":    {"how much is delivery to spain", "do you offer express shipping"},
		"payment_issue":    {"my card payment was declined", "i was charged twice for one order"},
		"product_question": {"is this sofa available in green", "what size is this jacket"},
		"human_agent":      {"can i chat with a real person", "i want a human agent"},
		"goodbye":          {"thanks, goodbye", "that's all, thank you"},
	} {
		for _, text := range texts {
			if r := c.Classify(text); r.Intent != intent {
				t.Errorf("%q: %s (%.3f), want %s", text, r.Intent, r.Confidence, intent)
			}
		}
	}
}

// Nothing the classifier can learn from is fallback with confidence 0,
// and bad bytes or a huge input neither panic nor take long.
func TestClassifyBadInput(t *testing.T) {
	c := defaultClassifier(t)
	for _, text := range []string{"", "   ", "?!?!", "\xff\xfe", "🙂🙂"} {
		if r := c.Classify(text); r.Intent != Fallback || r.Confidence != 0 {
			t.Errorf("%q: %+v, want fallback at 0", text, r)
		}
	}
	for _, text := range []string{"zxqv plmok", "asdfghjkl qwertyuiop"} {
		if r := c.Classify(text); r.Intent != Fallback {
			t.Errorf("gibberish %q: %s (%.3f)", text, r.Intent, r.Confidence)
		}
	}
	r := c.Classify("where is my order \xff\xfe please")
	if r.Intent != "order_status" || !strings.Contains(r.Text, "\uFFFD") {
		t.Errorf("invalid UTF-8 inside a sentence: %+v", r)
	}
	huge := strings.Repeat("where is my order ", 100000)
	r = c.Classify(huge)
	if len(r.Text) > MaxUtterance || r.Intent != "order_status" {
		t.Errorf("huge input: intent %s, %d bytes of text kept", r.Intent, len(r.Text))
	}
	if r := c.Classify(strings.Repeat("é", MaxUtterance)); !strings.HasSuffix(r.Text, "é") {
		t.Errorf("cut inside a rune: %q", r.Text[len(r.Text)-4:])
	}
}

// The same phrases train the same model: the same text gets the same
// result, whatever the map order of the runs.
func TestClassifyDeterministic(t *testing.T) {
	a, b := defaultClassifier(t), defaultClassifier(t)
	for _, tc := range heldout(t) {
		if ra, rb := a.Classify(tc.text), b.Classify(tc.text); ra.Intent != rb.Intent || ra.Confidence != rb.Confidence {
			t.Fatalf("%q: %+v then %+v", tc.text, ra, rb)
		}
	}
}

func TestIntentSetCheck(t *testing.T) {
	ok := func() *IntentSet {
		return &IntentSet{Threshold: 0.5, Intents: []Intent{{"a", []string{"x"}}, {"b", []string{"y"}}}}
	}
	for name, edit := range map[string]func(*IntentSet){
		"one intent":     func(s *IntentSet) { s.Intents = s.Intents[:1] },
		"threshold":      func(s *IntentSet) { s.Threshold = 1 },
		"no name":        func(s *IntentSet) { s.Intents[0].Name = "" },
		"fallback":       func(s *IntentSet) { s.Intents[0].Name = Fallback },
		"twice":          func(s *IntentSet) { s.Intents[1].Name = "a" },
		"no examples":    func(s *IntentSet) { s.Intents[1].Examples = nil },
		"negative limit": func(s *IntentSet) { s.Threshold = -0.1 },
	} {
		s := ok()
		edit(s)
		if _, err := NewClassifier(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewClassifier(ok()); err != nil {
		t.Error(err)
	}
}

func TestExtract(t *testing.T) {
	for text, want := range map[string]map[string]string{
		"order #884421 please":                    {EntityOrderNumber: "884421"},
		"it's ORD-10023":                          {EntityOrderNumber: "ORD-10023"},
		"can you look up a77231":                  {EntityOrderNumber: "A77231"},
		"mail me at Ada.L@Example.co.uk":          {EntityEmail: "ada.l@example.co.uk"},
		"refund $45.50 on order 12345":            {EntityAmount: "45.50", EntityOrderNumber: "12345"},
		"charged 30 euros":                        {EntityAmount: "30"},
		"12,99 € too much":                        {EntityAmount: "12.99"},
		"€ 12,99 too much":                        {EntityAmount: "12.99"},
		"ada1234@example.com order 5555":          {EntityEmail: "ada1234@example.com", EntityOrderNumber: "5555"},
		"i have 3 items and 2 boxes":              {},
		"order 123, which is too short to be one": {},
	} {
		got := Extract(text)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Extract(%q) = %v, want %v", text, got, want)
		}
	}
}

// BenchmarkClassify measures utterances per second on the held-out set.
func BenchmarkClassify(b *testing.B) {
	c := defaultClassifier(b)
	cases := heldout(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Classify(cases[i%len(cases)].text)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "utterances/s")
}

func BenchmarkTrain(b *testing.B) {
	set := defaultIntents(b)
	for i := 0; i < b.N; i++ {
		if _, err := NewClassifier(set); err != nil {
			b.Fatal(err)
		}
	}
}

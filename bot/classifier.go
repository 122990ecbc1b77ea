package bot

import (
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Fallback is the intent of an utterance the classifier is not confident
// about: its best score is below the threshold, or it has no word the
// training phrases had.
const Fallback = "fallback"

// IntentSet is an intents file: the intents with their training phrases,
// and the confidence below which an utterance is Fallback. The shipped
// default is defaults/intents.yaml (DefaultIntents); the app decodes a
// replacement from YAML into this struct.
type IntentSet struct {
	Threshold float64  `yaml:"threshold"`
	Intents   []Intent `yaml:"intents"`
}

// Intent is one intent and the phrases that teach it.
type Intent struct {
	Name     string   `yaml:"name"`
	Examples []string `yaml:"examples"`
}

// Check returns an error naming the first problem of the set: no intents,
// an intent without a name or examples, a name used twice or reserved, a
// threshold outside [0, 1).
func (s *IntentSet) Check() error {
	if len(s.Intents) < 2 {
		return fmt.Errorf("intents: %d intents; at least two are needed to tell them apart", len(s.Intents))
	}
	if s.Threshold < 0 || s.Threshold >= 1 {
		return fmt.Errorf("intents: threshold %v is not in [0, 1)", s.Threshold)
	}
	seen := map[string]bool{}
	for i, in := range s.Intents {
		switch {
		case in.Name == "":
			return fmt.Errorf("intents: intent %d has no name", i+1)
		case in.Name == Fallback:
			return fmt.Errorf("intents: %q is reserved for utterances below the threshold", Fallback)
		case seen[in.Name]:
			return fmt.Errorf("intents: %q is defined twice", in.Name)
		case len(in.Examples) == 0:
			return fmt.Errorf("intents: %q has no examples", in.Name)
		}
		seen[in.Name] = true
	}
	return nil
}

// Classifier is a multinomial naive Bayes model over word unigrams,
// word bigrams and the character 3- to 5-grams of each word, trained from
// an IntentSet. Character n-grams let a misspelt word ("pakage") still
// share most of its features with the right one. Training and
// classification are deterministic: the same set gives the same model
// and the same text the same Result. A Classifier is safe for concurrent
// use; it is never modified after NewClassifier.
type Classifier struct {
	intents   []string
	threshold float64
	// index maps a feature to its row in logLikelihood, which holds
	// log P(feature | intent) for every intent, row by row.
	index         map[string]int
	logLikelihood []float64
	logPrior      []float64
}

// smoothing is the Laplace (additive) smoothing of the feature counts.
const smoothing = 0.1

// temperature flattens the posterior: naive Bayes multiplies the evidence
// of overlapping features (a word, its bigrams and its n-grams) as if they
// were independent, so raw posteriors are near 0 or 1 for any input. The
// log scores are divided by the number of features seen, times this.
const temperature = 0.08

// NewClassifier trains a classifier on set, which must pass Check.
func NewClassifier(set *IntentSet) (*Classifier, error) {
	if err := set.Check(); err != nil {
		return nil, err
	}
	n := len(set.Intents)
	c := &Classifier{threshold: set.Threshold, index: map[string]int{}, logPrior: make([]float64, n)}
	counts := [][]float64{} // per feature, per intent
	totals := make([]float64, n)
	examples := 0
	for i, in := range set.Intents {
		c.intents = append(c.intents, in.Name)
		examples += len(in.Examples)
		for _, ex := range in.Examples {
			for _, f := range features(ex) {
				row, ok := c.index[f]
				if !ok {
					row = len(counts)
					c.index[f] = row
					counts = append(counts, make([]float64, n))
				}
				counts[row][i]++
				totals[i]++
			}
		}
	}
	vocab := float64(len(counts))
	c.logLikelihood = make([]float64, len(counts)*n)
	for row, perIntent := range counts {
		for i, k := range perIntent {
			c.logLikelihood[row*n+i] = math.Log((k + smoothing) / (totals[i] + smoothing*vocab))
		}
	}
	for i, in := range set.Intents {
		c.logPrior[i] = math.Log(float64(len(in.Examples)) / float64(examples))
	}
	return c, nil
}

// Intents returns the names of the classifier's intents, in the order of
// its IntentSet.
func (c *Classifier) Intents() []string { return append([]string(nil), c.intents...) }

// Result is what the classifier makes of one utterance; `helpline bot
// classify` prints it as one JSON line.
type Result struct {
	Text       string  `json:"text"`
	Intent     string  `json:"intent"`
	Confidence float64 `json:"confidence"`
	// Best is the best-scoring intent even when Intent is Fallback.
	Best     string            `json:"-"`
	Entities map[string]string `json:"entities"`
}

// Classify returns the most likely intent of text with its confidence
// (the posterior probability, in [0, 1]) and the entities found in it.
// Empty text, text of symbols only or text sharing no feature with the
// training phrases is Fallback with confidence 0. Invalid UTF-8 is read
// with each bad byte as U+FFFD; text is cut to MaxUtterance bytes.
func (c *Classifier) Classify(text string) Result {
	text = clean(text)
	r := Result{Text: text, Intent: Fallback, Entities: Extract(text)}
	n := len(c.intents)
	scores := append([]float64(nil), c.logPrior...)
	known := 0
	fs := features(text)
	for _, f := range fs {
		row, ok := c.index[f]
		if !ok {
			continue
		}
		known++
		for i := range scores {
			scores[i] += c.logLikelihood[row*n+i]
		}
	}
	if known == 0 {
		return r
	}
	best := 0
	for i := range scores {
		if scores[i] > scores[best] {
			best = i
		}
	}
	var sum float64
	for i := range scores {
		sum += math.Exp((scores[i] - scores[best]) / (temperature * float64(known)))
	}
	// Words the training never saw lower the confidence: an utterance
	// that shares a few letter groups with one intent and nothing else is
	// not that intent.
	coverage := float64(known) / float64(len(fs))
	r.Best = c.intents[best]
	r.Confidence = math.Round(math.Sqrt(coverage)/sum*1000) / 1000
	if r.Confidence >= c.threshold {
		r.Intent = r.Best
	}
	return r
}

// MaxUtterance bounds the bytes of one utterance the classifier reads;
// Connect's plain-text messages are at most 1024 characters.
const MaxUtterance = 4096

// clean returns text as valid UTF-8, cut to MaxUtterance bytes on a rune
// boundary, spaces trimmed.
func clean(text string) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	if len(text) > MaxUtterance {
		cut := MaxUtterance
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	return strings.TrimSpace(text)
}

// words returns the lower-cased words of text: runs of letters and
// digits, apostrophes dropped ("where's" is "wheres"), and any word with
// a digit replaced by "0" so that order numbers and amounts teach the
// shape, not the value.
func words(text string) []string {
	var out []string
	var b strings.Builder
	digit := false
	flush := func() {
		if b.Len() > 0 {
			w := b.String()
			if digit {
				w = "0"
			}
			out = append(out, w)
		}
		b.Reset()
		digit = false
	}
	for _, r := range text {
		switch {
		case unicode.IsLetter(r):
			b.WriteRune(unicode.ToLower(r))
		case unicode.IsDigit(r):
			b.WriteRune(r)
			digit = true
		case r == '\'' || r == '’':
		default:
			flush()
		}
	}
	flush()
	return out
}

// features returns the features of text: "w:" words, "b:" word pairs and
// "c:" character 3- to 5-grams of each word padded with "_".
func features(text string) []string {
	ws := words(text)
	out := make([]string, 0, len(ws)*12)
	for i, w := range ws {
		out = append(out, "w:"+w)
		if i > 0 {
			out = append(out, "b:"+ws[i-1]+" "+w)
		}
		padded := []rune("_" + w + "_")
		for size := 3; size <= 5; size++ {
			for j := 0; j+size <= len(padded); j++ {
				out = append(out, "c:"+string(padded[j:j+size]))
			}
		}
	}
	return out
}

package bot

import (
	"testing"

	"github.com/helplinehq/helpline"
)

// recentIn takes a turn's recent items from a window only when the window
// holds all of them.
func TestRecentIn(t *testing.T) {
	run := func(from, to int64) []*helpline.Item {
		var out []*helpline.Item
		for s := from; s <= to; s++ {
			out = append(out, &helpline.Item{Seq: s})
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		window     []*helpline.Item
		seq        int64
		ok         bool
		first, len int64
	}{
		{"the first item", run(1, 5), 1, true, 0, 0},
		{"short chat", run(1, 5), 4, true, 1, 3},
		{"a full window", run(11, 50), 50, true, 20, 30},
		{"just enough", run(11, 50), 41, true, 11, 30},
		{"one short", run(11, 50), 40, false, 0, 0},
		{"not in the window", run(11, 50), 51, false, 0, 0},
		{"no window", nil, 7, false, 0, 0},
	} {
		got, ok := recentIn(tc.window, tc.seq)
		if ok != tc.ok || int64(len(got)) != tc.len || tc.len > 0 && (got[0].Seq != tc.first || got[len(got)-1].Seq != tc.seq-1) {
			t.Errorf("%s: recentIn(seq %d) = %d items from %v, %v; want %d from %d, %v", tc.name, tc.seq, len(got), got, ok, tc.len, tc.first, tc.ok)
		}
	}
}

package bot

import "strings"

// negativeWords is a small lexicon of what an angry or upset customer
// writes, with a weight; an utterance whose weights add up to angerScore
// or more is negative.
var negativeWords = map[string]int{
	"angry": 2, "furious": 2, "outraged": 2, "livid": 2, "unacceptable": 2, "disgusting": 2, "scam": 2,
	"worst": 2, "pathetic": 2, "incompetent": 2, "ridiculous": 2, "disgraceful": 2, "horrible": 1,
	"terrible": 1, "awful": 1, "useless": 1, "hate": 1, "annoyed": 1, "frustrated": 1, "frustrating": 1,
	"rubbish": 1, "joke": 1, "fed": 1, "sick": 1, "never": 1, "lawyer": 2, "sue": 2, "fraud": 2,
}

const angerScore = 2

// profaneStems are the starts of swear words: a word starting with one
// is profane.
var profaneStems = []string{"fuck", "shit", "bullshit", "asshole", "bastard", "bitch", "crap", "wtf", "dick", "piss", "damn"}

// mood reports whether text reads as angry and whether it swears.
func mood(text string) (negative, profane bool) {
	score := 0
	for _, w := range words(text) {
		score += negativeWords[w]
		for _, stem := range profaneStems {
			if strings.HasPrefix(w, stem) {
				profane = true
			}
		}
	}
	return score >= angerScore, profane
}

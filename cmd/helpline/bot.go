package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/helplinehq/helpline/app"
)

const botUsage = `Usage: helpline bot classify [-intents FILE]

  classify   read one utterance per line on standard input and print, per
             line, {"text","intent","confidence","entities":{...}} as JSON
`

func runBot(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "classify" {
		fmt.Fprint(stderr, botUsage)
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("bot classify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	intents := fs.String("intents", "", "intents file (YAML); default: the shipped intents")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	clf, err := app.NewClassifier(*intents)
	if err != nil {
		return err
	}
	in := bufio.NewReader(stdin)
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	for ctx.Err() == nil {
		line, err := in.ReadString('\n')
		if len(line) > 0 {
			if err := enc.Encode(clf.Classify(line)); err != nil {
				return err
			}
		}
		if err == io.EOF {
			break
		} else if err != nil {
			return err
		}
	}
	return out.Flush()
}

// stdin is where bot classify reads; tests replace it.
var stdin io.Reader = os.Stdin

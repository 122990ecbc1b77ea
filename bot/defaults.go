package bot

import _ "embed"

// The shipped default intents, as YAML. The engine imports no YAML decoder, so
// the app decodes it (and any replacement an instance configures) into
// an IntentSet; keeping them as YAML files rather than Go
// literals lets an operator copy it, edit it and point the configuration
// at the copy.
//
//go:embed defaults/intents.yaml
var DefaultIntents []byte

package bot

import _ "embed"

// The shipped defaults, as YAML. The engine imports no YAML decoder, so
// the app decodes them (and the replacements an instance configures) into
// an IntentSet and a Policies. They stay YAML files rather than Go
// literals so that an operator can copy one, edit it and point the
// configuration at the copy.
var (
	//go:embed defaults/intents.yaml
	DefaultIntents []byte
	//go:embed defaults/policies.yaml
	DefaultPolicies []byte
)

package connectapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/helplinehq/helpline"
)

// requestIDHeader carries the request id on every response; the AWS SDKs
// read it (x-amzn-RequestId, in any case) into their response metadata.
// It is written in the canonical form that net/http sends, so that setting
// and reading it on every request allocates no canonical copy.
const requestIDHeader = "X-Amzn-Requestid"

// exception is an AWS error name with its HTTP status.
type exception struct {
	status int
	name   string
}

// errorFamily maps helpline error codes to one API's exceptions. There is
// one table per API family; these are the only places codes become
// statuses.
type errorFamily map[string]exception

// participantErrors is the Connect Participant Service's table (status
// codes and names from the connectparticipant model). ENOTFOUND maps to
// ResourceNotFoundException, which the model declares only on DescribeView;
// the SDKs surface it on other operations as a generic API error with that
// code, which still says what happened.
var participantErrors = errorFamily{
	helpline.EINVALID:   {http.StatusBadRequest, "ValidationException"},
	helpline.ENOTFOUND:  {http.StatusNotFound, "ResourceNotFoundException"},
	helpline.EFORBIDDEN: {http.StatusForbidden, "AccessDeniedException"},
	helpline.ECONFLICT:  {http.StatusConflict, "ConflictException"},
	helpline.EQUOTA:     {http.StatusPaymentRequired, "ServiceQuotaExceededException"},
	helpline.ETHROTTLED: {http.StatusTooManyRequests, "ThrottlingException"},
	helpline.EINTERNAL:  {http.StatusInternalServerError, "InternalServerException"},
}

// contactErrors is the Connect contact API's table (the connect model).
// EINVALID is InvalidRequestException, the one validation error every
// contact operation models (InvalidParameterException is missing from
// CreateParticipant and GetContactAttributes), so typed SDK errors always
// decode. EQUOTA is the active-chat quota, which StartChatContact reports
// as LimitExceededException (429). Throttled StartChatContact calls are
// TooManyRequestsException, as its documentation names them; see
// throttleName. The Go SDK retries both 429 names with backoff.
var contactErrors = errorFamily{
	helpline.EINVALID:   {http.StatusBadRequest, "InvalidRequestException"},
	helpline.ENOTFOUND:  {http.StatusNotFound, "ResourceNotFoundException"},
	helpline.EFORBIDDEN: {http.StatusForbidden, "AccessDeniedException"},
	helpline.ECONFLICT:  {http.StatusConflict, "ConflictException"},
	helpline.EQUOTA:     {http.StatusTooManyRequests, "LimitExceededException"},
	helpline.ETHROTTLED: {http.StatusTooManyRequests, "ThrottlingException"},
	helpline.EINTERNAL:  {http.StatusInternalServerError, "InternalServiceException"},
}

// apiError is an error the transport itself names, outside the code
// tables: signature failures and unknown operations.
type apiError struct {
	status  int
	name    string
	message string
}

func (e *apiError) Error() string { return e.name + ": " + e.message }

// errorBody is the JSON error shape both SDK families parse: the code in
// __type and the message under "Message" with a capital M (the Go SDK
// fills typed errors only from that key).
type errorBody struct {
	Type         string `json:"__type"`
	Message      string `json:"Message"`
	ResourceID   string `json:"ResourceId,omitempty"`
	ResourceType string `json:"ResourceType,omitempty"`
}

// writeError answers err in the AWS error format: the family's status,
// X-Amzn-ErrorType and an errorBody. Internal errors are logged here with
// the request id, and the client sees only a generic message.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, fam errorFamily, err error) {
	var body errorBody
	var status int
	var ae *apiError
	if errors.As(err, &ae) {
		status, body.Type, body.Message = ae.status, ae.name, ae.message
	} else {
		code := helpline.ErrorCode(err)
		ex, ok := fam[code]
		if !ok {
			ex = fam[helpline.EINTERNAL]
		}
		status, body.Type, body.Message = ex.status, ex.name, helpline.ErrorMessage(err)
		var he *helpline.Error
		if code == helpline.ENOTFOUND && errors.As(err, &he) {
			body.ResourceID, body.ResourceType = he.ResourceID, he.Resource
		}
	}
	if status >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path,
			"request_id", w.Header().Get(requestIDHeader), "err", err)
	}
	w.Header().Set("X-Amzn-ErrorType", body.Type)
	writeJSONStatus(w, status, body)
}

// jsonContentType is the Content-Type header value of JSON responses.
var jsonContentType = []string{"application/json"}

// writeJSON answers 200 with v as JSON.
func writeJSON(w http.ResponseWriter, v any) { writeJSONStatus(w, http.StatusOK, v) }

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Every value written here is built from plain structs, maps
		// and strings; failing to encode one is a bug.
		panic("connectapi: encoding response: " + err.Error())
	}
	// The header's value is shared by every response: net/http only reads
	// it, and nothing here changes it afterwards.
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	w.Write(b)
}

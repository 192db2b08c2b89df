package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// hookTolerance is how far a webhook-timestamp may lie from the
// receiver's clock, as Standard Webhooks recommends: an older request is
// a replay, and counted as a bad signature.
const hookTolerance = 5 * time.Minute

// maxHookBody bounds the body of an SMS the receiver reads: the
// service's are some 200 bytes.
const maxHookBody = 64 << 10

// hookReceiver is phoneauth bench's SMS gateway: the server under test
// POSTs each SMS to it as the webhook provider does. It checks each
// request's Standard Webhooks signature, counting the bad ones (answered
// 401, so the server answers its client 502), and hands the code of each
// good one to the virtual user waiting for that number. It is safe for
// concurrent use.
type hookReceiver struct {
	key []byte
	now func() time.Time

	mu      sync.Mutex
	waiting map[string]chan string // number → its virtual user's mailbox

	received   atomic.Int64 // SMS with a good signature
	bad        atomic.Int64 // requests with a missing, stale or wrong signature
	unexpected atomic.Int64 // good SMS no one waited for, or not an SMS
}

func newHookReceiver(key []byte) *hookReceiver {
	return &hookReceiver{key: key, now: time.Now, waiting: map[string]chan string{}}
}

// expect hands the code of the next SMS to phone to box, which must have
// room for one.
func (h *hookReceiver) expect(phone string, box chan string) {
	h.mu.Lock()
	h.waiting[phone] = box
	h.mu.Unlock()
}

// forget stops handing phone's codes to anyone.
func (h *hookReceiver) forget(phone string) {
	h.mu.Lock()
	delete(h.waiting, phone)
	h.mu.Unlock()
}

// hookSMS is the part of the webhook's body the receiver reads.
type hookSMS struct {
	To   string `json:"to"`
	Code string `json:"code"`
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxHookBody))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if !h.signed(r.Header, body) {
		h.bad.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	h.received.Add(1)
	var m hookSMS
	if json.Unmarshal(body, &m) != nil || m.To == "" || m.Code == "" {
		h.unexpected.Add(1)
		w.WriteHeader(http.StatusNoContent) // sent, as far as the server knows
		return
	}
	h.mu.Lock()
	box := h.waiting[m.To]
	delivered := false
	if box != nil {
		select {
		case box <- m.Code:
			delivered = true
		default: // a second code before the first was read
		}
	}
	h.mu.Unlock()
	if !delivered {
		h.unexpected.Add(1)
	}
	w.WriteHeader(http.StatusNoContent)
}

// signed reports whether header carries a Standard Webhooks signature of
// body under the receiver's key, with a timestamp within hookTolerance:
// webhook-signature holds one or more space-separated "v1,BASE64" of
// HMAC-SHA256(key, id "." timestamp "." body).
func (h *hookReceiver) signed(header http.Header, body []byte) bool {
	id, ts := header.Get("webhook-id"), header.Get("webhook-timestamp")
	if id == "" || ts == "" {
		return false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if d := h.now().Sub(time.Unix(sec, 0)); d > hookTolerance || d < -hookTolerance {
		return false
	}
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	want := m.Sum(nil)
	for sig := range strings.FieldsSeq(header.Get("webhook-signature")) {
		v, b64, ok := strings.Cut(sig, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// hookKey returns the signing key of a webhook secret as the service
// reads PHONEAUTH_SMS_WEBHOOK_SECRET: "whsec_" and the key's base64, or
// the key's bytes as they are. The secret has passed
// sms.WebhookConfig.Validate.
func hookKey(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		key, err := base64.StdEncoding.DecodeString(rest)
		if err == nil {
			return key
		}
	}
	return []byte(secret)
}

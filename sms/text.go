package sms

import (
	"errors"
	"regexp"
	"strings"
	"text/template"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/phoneauth/phoneauth"
)

var _ phoneauth.Texts = (*Texts)(nil)

// TextConfig configures the text of the messages. Every field is
// optional; with none set the text is phoneauth.DefaultText.
type TextConfig struct {
	// Register and Login are text/template templates of the register and
	// login messages, with the fields of TextData; each must print
	// {{.Code}}. Login's also writes the codes a signed-in user asks for
	// (account deletion, phone change). Empty: phoneauth.DefaultText.
	Register, Login string
	// AppName is {{.AppName}} in the templates.
	AppName string
	// Origin, a host name such as example.com, ends each message with the
	// origin-bound line "@example.com #123456", from which browsers
	// (WebOTP) and iOS fill the code in by themselves.
	Origin string
	// AndroidHash is the 11-character hash of an Android app, added to
	// each message on a line of its own so that the app's SMS Retriever
	// reads the code. With Origin too, the origin-bound line stays the
	// last line, as WebOTP requires, and the hash is on the line before.
	AndroidHash string
}

// TextData is what a template may print.
type TextData struct {
	Code    string
	Minutes int // how long the code lasts, in whole minutes, rounded
	AppName string
}

// Texts writes the messages' texts from a TextConfig. Build it with
// NewTexts; it is safe for concurrent use.
type Texts struct {
	register, login *template.Template // nil: phoneauth.DefaultText
	appName         string
	suffix          func(code string) string
}

// textError is a TextConfig field NewTexts refuses.
func textError(field, problem string) error {
	return &ConfigError{Provider: "text", Field: field, Problem: problem}
}

var (
	androidHashRE = regexp.MustCompile(`^[A-Za-z0-9+/]{11}$`)
	// A host name of letters, digits and hyphens, with at least one dot:
	// what a WebOTP origin-bound line names.
	originRE = regexp.MustCompile(`^(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?))+$`)
)

// sampleCode marks where a template printed the code, to check it does.
const sampleCode = "\x00code\x00"

// NewTexts returns the Texts of c, or the *ConfigError of each field it
// refuses, joined: a template that does not parse, fails to run or never
// prints {{.Code}}; an Origin that is not a host name; an AndroidHash
// that is not 11 characters of base64.
func NewTexts(c TextConfig) (*Texts, error) {
	t := &Texts{appName: c.AppName}
	var errs []error
	parse := func(field, text string) *template.Template {
		if text == "" {
			return nil
		}
		tmpl, err := template.New(field).Option("missingkey=error").Parse(text)
		if err != nil {
			errs = append(errs, textError(field, "is not a template: "+err.Error()))
			return nil
		}
		var b strings.Builder
		if err := tmpl.Execute(&b, TextData{Code: sampleCode, Minutes: 5, AppName: c.AppName}); err != nil {
			errs = append(errs, textError(field, "fails: "+err.Error()))
			return nil
		}
		if !strings.Contains(b.String(), sampleCode) {
			errs = append(errs, textError(field, "never prints the code: it needs {{.Code}}"))
			return nil
		}
		return tmpl
	}
	t.register = parse("Register", c.Register)
	t.login = parse("Login", c.Login)
	if c.Origin != "" && !originRE.MatchString(c.Origin) {
		errs = append(errs, textError("Origin", "must be a host name such as example.com, without scheme, port or path"))
	}
	if c.AndroidHash != "" && !androidHashRE.MatchString(c.AndroidHash) {
		errs = append(errs, textError("AndroidHash", "must be the 11 characters of the app's hash"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	t.suffix = func(code string) string {
		var b strings.Builder
		if c.AndroidHash != "" {
			b.WriteString("\n\n" + c.AndroidHash)
		}
		if c.Origin != "" {
			if c.AndroidHash == "" {
				b.WriteString("\n")
			}
			b.WriteString("\n@" + c.Origin + " #" + code)
		}
		return b.String()
	}
	return t, nil
}

// Text returns the message of purpose p with code, valid for ttl: the
// purpose's template (Login's for every purpose but register) or
// phoneauth.DefaultText, then the autofill lines.
func (t *Texts) Text(p phoneauth.Purpose, code string, ttl time.Duration) string {
	tmpl := t.login
	if p == phoneauth.PurposeRegister {
		tmpl = t.register
	}
	text := phoneauth.DefaultText(code, ttl)
	if tmpl != nil {
		var b strings.Builder
		// NewTexts ran the template with the same fields, so it does not
		// fail here; if it did, the default text still carries the code.
		if err := tmpl.Execute(&b, TextData{Code: code, Minutes: int(ttl.Round(time.Minute) / time.Minute), AppName: t.appName}); err == nil {
			text = b.String()
		}
	}
	return text + t.suffix(code)
}

// Segments returns how many SMS segments text takes, each billed: one up
// to 160 GSM-7 characters (70 if any character is outside GSM-7 and the
// text goes as UCS-2), and 153 (67) per segment beyond, the rest being
// the header that joins them.
func Segments(text string) int {
	if n, ok := gsmSeptets(text); ok {
		return segments(n, 160, 153)
	}
	return segments(len(utf16.Encode([]rune(text))), 70, 67)
}

func segments(n, single, multi int) int {
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

// IsGSM7 reports whether text is written in the GSM-7 alphabet alone, so
// that it goes as 7-bit characters rather than UCS-2.
func IsGSM7(text string) bool {
	_, ok := gsmSeptets(text)
	return ok
}

// gsmSeptets returns how many septets text takes in GSM-7, and false if a
// character of it is not in the alphabet (or not valid UTF-8).
func gsmSeptets(text string) (int, bool) {
	n := 0
	for _, r := range text {
		switch {
		case r == utf8.RuneError:
			return 0, false
		case strings.ContainsRune(gsmBasic, r):
			n++
		case strings.ContainsRune(gsmExtension, r):
			n += 2
		default:
			return 0, false
		}
	}
	return n, true
}

// The GSM 03.38 alphabet: its basic table, one septet each, and the
// characters of its extension table, two each (escape and character).
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "\f^{}\\[~]|€"
)

// SegmentWarning returns the purposes whose messages take more than one
// segment, each with its count, rendered with a code of codeLength digits
// valid for ttl; nil if every message fits in one.
func (t *Texts) SegmentWarning(codeLength int, ttl time.Duration) map[phoneauth.Purpose]int {
	code := strings.Repeat("0", codeLength)
	var out map[phoneauth.Purpose]int
	for _, p := range []phoneauth.Purpose{phoneauth.PurposeRegister, phoneauth.PurposeLogin} {
		if n := Segments(t.Text(p, code, ttl)); n > 1 {
			if out == nil {
				out = map[phoneauth.Purpose]int{}
			}
			out[p] = n
		}
	}
	return out
}

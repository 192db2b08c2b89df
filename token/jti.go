package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"

	"github.com/google/uuid"

	"github.com/phoneauth/phoneauth"
)

// The jti of a token Sign makes is a UUID string in the version 4 layout,
// as flask-jwt-extended writes, so every backend keeps reading it as one.
// Its 122 free bits carry, in order:
//
//	session     64 bits  the session ID
//	generation  24 bits  the rotation counter (phoneauth.MaxGeneration)
//	tag         34 bits  HMAC-SHA256, under a key derived from the secret,
//	                     of the above and the token's type, sub and iat
//
// The tag tells a jti Sign made from the random one of a token minted
// elsewhere with the same secret: a random jti passes for one of ours with
// probability 2^-34. Binding type, sub and iat makes every distinct token's
// jti distinct (two tokens with the same claims are the same token) and
// lets nothing be moved from one token to another.
const (
	genBits = 24
	tagBits = 34
)

// jti returns the jti of a token of type typ for sub, issued at iat (Unix
// seconds), of generation gen in session.
func (s *Signer) jti(typ phoneauth.TokenType, sub string, iat int64, session uint64, gen uint32) string {
	return packJTI(session, gen, s.tag(typ, sub, iat, session, gen))
}

// ref returns the TokenRef of a token with claims c: Own, with the session
// and generation its jti carries, if the jti is one Sign made for these
// claims; otherwise the jti alone. A token without iat is never one Sign
// made.
func (s *Signer) ref(c phoneauth.Claims) phoneauth.TokenRef {
	r := phoneauth.TokenRef{JTI: c.Ref.JTI}
	session, gen, tag, ok := unpackJTI(c.Ref.JTI)
	if !ok || c.IssuedAt.IsZero() {
		return r
	}
	// The token's signature is already checked, so only a holder of the
	// secret could choose this jti; the tag's job is to tell ours from a
	// random one, and a plain comparison does it.
	if tag != s.tag(c.Type, c.Subject, c.IssuedAt.Unix(), session, gen) {
		return r
	}
	r.Own, r.Session, r.Generation = true, session, gen
	return r
}

// tag is the keyed tag of a jti, tagBits long.
func (s *Signer) tag(typ phoneauth.TokenType, sub string, iat int64, session uint64, gen uint32) uint64 {
	var fixed [20]byte
	binary.BigEndian.PutUint64(fixed[0:], session)
	binary.BigEndian.PutUint32(fixed[8:], gen)
	binary.BigEndian.PutUint64(fixed[12:], uint64(iat))
	m := hmac.New(sha256.New, s.jtiKey)
	m.Write(fixed[:])
	// typ is "access" or "refresh", never holding a NUL: the first NUL
	// ends it.
	m.Write([]byte(typ))
	m.Write([]byte{0})
	m.Write([]byte(sub))
	return binary.BigEndian.Uint64(m.Sum(nil)) >> (64 - tagBits)
}

// packJTI lays session, gen and tag out in the free bits of a version 4
// UUID: the first 60 payload bits around the version nibble in the high
// half, the last 62 below the variant bits in the low half.
func packJTI(session uint64, gen uint32, tag uint64) string {
	high60 := session >> 4
	low62 := session&0xf<<58 | uint64(gen)&(1<<genBits-1)<<tagBits | tag&(1<<tagBits-1)
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[0:], high60>>12<<16|0x4<<12|high60&0xfff)
	binary.BigEndian.PutUint64(u[8:], 0b10<<62|low62)
	return u.String()
}

// unpackJTI is the inverse of packJTI. ok is false unless jti is a UUID
// string exactly as packJTI writes one: lowercase, hyphenated, version 4.
func unpackJTI(jti string) (session uint64, gen uint32, tag uint64, ok bool) {
	u, err := uuid.Parse(jti)
	if err != nil || u.String() != jti || u.Version() != 4 || u.Variant() != uuid.RFC4122 {
		return 0, 0, 0, false
	}
	high := binary.BigEndian.Uint64(u[0:])
	low62 := binary.BigEndian.Uint64(u[8:]) & (1<<62 - 1)
	high60 := high>>16<<12 | high&0xfff
	session = high60<<4 | low62>>58
	gen = uint32(low62 >> tagBits & (1<<genBits - 1))
	tag = low62 & (1<<tagBits - 1)
	return session, gen, tag, true
}

package httpapi

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/phoneauth/phoneauth"
)

// request is a decoded JSON request body that can tell whether it holds
// what its endpoint needs.
type request interface {
	// Valid returns a *missingFieldsError naming the required fields
	// that are absent or empty, or nil.
	Valid() error
}

// jsonCall adapts a handler body that takes a decoded, valid JSON request
// and returns the 200 response body, or an error for writeError.
func jsonCall[Req request](s *Server, call func(r *http.Request, req Req) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[Req](w, r)
		if err == nil {
			err = req.Valid()
		}
		if err != nil {
			s.error(w, r, err)
			return
		}
		resp, err := call(r, req)
		if err != nil {
			s.error(w, r, err)
			return
		}
		encode(w, http.StatusOK, resp)
	})
}

// bearerCall adapts a handler body that takes the request's bearer token
// and returns the 200 response body, or an error for writeError.
func bearerCall(s *Server, call func(r *http.Request, token string) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := bearer(r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		resp, err := call(r, token)
		if err != nil {
			s.error(w, r, err)
			return
		}
		encode(w, http.StatusOK, resp)
	})
}

// bearerJSONCall adapts a handler body that takes the request's bearer
// token and a decoded, valid JSON request, and returns the 200 response
// body, or an error for writeError. The token is looked at first: a
// request with none is 401 whatever its body.
func bearerJSONCall[Req request](s *Server, call func(r *http.Request, token string, req Req) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := bearer(r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		req, err := decode[Req](w, r)
		if err == nil {
			err = req.Valid()
		}
		if err != nil {
			s.error(w, r, err)
			return
		}
		resp, err := call(r, token, req)
		if err != nil {
			s.error(w, r, err)
			return
		}
		encode(w, http.StatusOK, resp)
	})
}

// The request bodies, with the contract's field names.
type (
	registerRequest struct {
		Phone string `json:"phonenumber"`
	}
	verifyRequest struct {
		Code  string `json:"code"`
		Token string `json:"token"`
		Phone string `json:"phone"`
	}
	loginRequest struct {
		Phone string `json:"phone"`
	}
	loginVerifyRequest struct {
		Code   string `json:"code"`
		UserID string `json:"user_id"`
	}
	codeRequest struct {
		Code string `json:"code"`
	}
	phoneRequest struct {
		Phone string `json:"phone"`
	}
)

func (r registerRequest) Valid() error { return requireFields("phonenumber", r.Phone) }

func (r verifyRequest) Valid() error {
	return requireFields("code", r.Code, "token", r.Token, "phone", r.Phone)
}

func (r loginRequest) Valid() error { return requireFields("phone", r.Phone) }

func (r loginVerifyRequest) Valid() error {
	return requireFields("code", r.Code, "user_id", r.UserID)
}

func (r codeRequest) Valid() error { return requireFields("code", r.Code) }

func (r phoneRequest) Valid() error { return requireFields("phone", r.Phone) }

func handleRegister(s *Server) http.Handler {
	type response struct {
		Message string `json:"message"`
		Phone   string `json:"phone"`
		Token   string `json:"token"`
	}
	return jsonCall(s, func(r *http.Request, req registerRequest) (any, error) {
		reg, err := s.svc.Register(r.Context(), phoneauth.RegisterRequest{Phone: req.Phone, ClientIP: clientIP(r), UserAgent: r.UserAgent()})
		if err != nil {
			return nil, err
		}
		return response{Message: "User Created Successfully", Phone: reg.Phone, Token: reg.Token}, nil
	})
}

func handleVerify(s *Server) http.Handler {
	return jsonCall(s, func(r *http.Request, req verifyRequest) (any, error) {
		err := s.svc.Verify(r.Context(), phoneauth.VerifyRequest{Code: req.Code, Token: req.Token, Phone: req.Phone, ClientIP: clientIP(r), UserAgent: r.UserAgent()})
		if err != nil {
			return nil, err
		}
		return map[string]string{"message": "User verify Successfully!"}, nil
	})
}

func handleLogin(s *Server) http.Handler {
	type response struct {
		ExpireTime string `json:"expire_time"`
		Message    string `json:"message"`
		UserID     string `json:"user_id"`
	}
	ttl := strconv.FormatInt(int64(s.svc.Policy().CodeTTL/time.Second), 10)
	return jsonCall(s, func(r *http.Request, req loginRequest) (any, error) {
		pending, err := s.svc.Login(r.Context(), phoneauth.LoginRequest{Phone: req.Phone, ClientIP: clientIP(r), UserAgent: r.UserAgent()})
		if err != nil {
			return nil, err
		}
		return response{ExpireTime: ttl, Message: "Code Send to user", UserID: pending.UserID}, nil
	})
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func handleLoginVerify(s *Server) http.Handler {
	return jsonCall(s, func(r *http.Request, req loginVerifyRequest) (any, error) {
		pair, err := s.svc.VerifyLogin(r.Context(), phoneauth.VerifyLoginRequest{Code: req.Code, UserID: req.UserID, ClientIP: clientIP(r), UserAgent: r.UserAgent()})
		if err != nil {
			return nil, err
		}
		return tokenResponse{AccessToken: pair.Access, RefreshToken: pair.Refresh}, nil
	})
}

func handleRefresh(s *Server) http.Handler {
	return bearerCall(s, func(r *http.Request, token string) (any, error) {
		pair, err := s.svc.Refresh(r.Context(), phoneauth.TokenRequest{Token: token, ClientIP: clientIP(r), UserAgent: r.UserAgent()})
		if err != nil {
			return nil, err
		}
		return tokenResponse{AccessToken: pair.Access, RefreshToken: pair.Refresh}, nil
	})
}

func handleLogout(s *Server) http.Handler {
	return bearerCall(s, func(r *http.Request, token string) (any, error) {
		if err := s.svc.Logout(r.Context(), phoneauth.TokenRequest{Token: token, ClientIP: clientIP(r), UserAgent: r.UserAgent()}); err != nil {
			return nil, err
		}
		return map[string]string{"message": "Logged out"}, nil
	})
}

func handleMe(s *Server) http.Handler {
	type response struct {
		UserID    string `json:"user_id"`
		Phone     string `json:"phone"`
		Verified  bool   `json:"verified"`
		CreatedAt string `json:"created_at"`
	}
	return bearerCall(s, func(r *http.Request, token string) (any, error) {
		u, err := s.svc.Me(r.Context(), token)
		if err != nil {
			return nil, err
		}
		return response{
			UserID:    u.ID,
			Phone:     u.Phone,
			Verified:  u.Verified,
			CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339),
		}, nil
	})
}

// handleDeleteRequest sends the code that confirms an account's deletion.
// It takes no body.
func handleDeleteRequest(s *Server) http.Handler {
	type response struct {
		Message    string `json:"message"`
		ExpireTime string `json:"expire_time"`
	}
	ttl := strconv.FormatInt(int64(s.svc.Policy().CodeTTL/time.Second), 10)
	return bearerCall(s, func(r *http.Request, token string) (any, error) {
		if err := s.svc.RequestDeletion(r.Context(), phoneauth.AccountRequest{Token: token, ClientIP: clientIP(r), UserAgent: r.UserAgent()}); err != nil {
			return nil, err
		}
		return response{Message: "Code Send to user", ExpireTime: ttl}, nil
	})
}

func handleDeleteVerify(s *Server) http.Handler {
	return bearerJSONCall(s, func(r *http.Request, token string, req codeRequest) (any, error) {
		err := s.svc.DeleteAccount(r.Context(), phoneauth.AccountCodeRequest{Token: token, Code: req.Code, ClientIP: clientIP(r), UserAgent: r.UserAgent()})
		if err != nil {
			return nil, err
		}
		return map[string]string{"message": "Account deleted"}, nil
	})
}

// handlePhoneRequest sends the code that proves a new number.
func handlePhoneRequest(s *Server) http.Handler {
	type response struct {
		Message    string `json:"message"`
		ExpireTime string `json:"expire_time"`
	}
	ttl := strconv.FormatInt(int64(s.svc.Policy().CodeTTL/time.Second), 10)
	return bearerJSONCall(s, func(r *http.Request, token string, req phoneRequest) (any, error) {
		err := s.svc.RequestPhoneChange(r.Context(), phoneauth.PhoneChangeRequest{Token: token, Phone: req.Phone, ClientIP: clientIP(r), UserAgent: r.UserAgent()})
		if err != nil {
			return nil, err
		}
		return response{Message: "Code Send to user", ExpireTime: ttl}, nil
	})
}

func handlePhoneVerify(s *Server) http.Handler {
	type response struct {
		Message string `json:"message"`
		Phone   string `json:"phone"`
	}
	return bearerJSONCall(s, func(r *http.Request, token string, req codeRequest) (any, error) {
		u, err := s.svc.ChangePhone(r.Context(), phoneauth.AccountCodeRequest{Token: token, Code: req.Code, ClientIP: clientIP(r), UserAgent: r.UserAgent()})
		if err != nil {
			return nil, err
		}
		return response{Message: "Phone number changed", Phone: u.Phone}, nil
	})
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header.
// Two Authorization headers are refused rather than one of them picked: a
// proxy and the client may disagree on which one counts. Errors:
// phoneauth.ErrTokenMissing, errManyAuthHeaders, errBadAuthHeader.
func bearer(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) > 1:
		return "", errManyAuthHeaders
	case len(values) == 0 || values[0] == "":
		return "", phoneauth.ErrTokenMissing
	}
	h := values[0]
	scheme, token, ok := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", errBadAuthHeader
	}
	return token, nil
}

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func handleReadyz(s *Server) http.Handler {
	type response struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		resp := response{Status: "ok", Checks: map[string]string{}}
		status := http.StatusOK
		for name, err := range s.svc.Check(ctx) {
			if err == nil {
				resp.Checks[name] = "ok"
				continue
			}
			s.log.WarnContext(r.Context(), "readiness check failed", "check", name, "err", err)
			resp.Checks[name] = "unavailable"
			resp.Status = "unavailable"
			status = http.StatusServiceUnavailable
		}
		if status == http.StatusServiceUnavailable {
			withUnavailableRetryAfter(nil, w.Header())
		}
		encode(w, status, resp)
	})
}

// openAPI is the OpenAPI document of the API, written by hand and held to
// the server by openapi_test.go.
//
//go:embed openapi.json
var openAPI []byte

// handleOpenAPI serves openapi.json as it is embedded.
func handleOpenAPI() http.Handler {
	doc := json.RawMessage(openAPI)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, doc)
	})
}

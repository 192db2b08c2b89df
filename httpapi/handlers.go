package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/phoneauth/phoneauth"
)

func handleRegister(s *Server) http.Handler {
	type request struct {
		Phone string `json:"phonenumber"`
	}
	type response struct {
		Message string `json:"message"`
		Phone   string `json:"phone"`
		Token   string `json:"token"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[request](w, r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		reg, err := s.svc.Register(r.Context(), phoneauth.RegisterRequest{Phone: req.Phone, ClientIP: clientIP(r)})
		if err != nil {
			s.error(w, r, err)
			return
		}
		encode(w, http.StatusOK, response{Message: "User Created Successfully", Phone: reg.Phone, Token: reg.Token})
	})
}

func handleVerify(s *Server) http.Handler {
	type request struct {
		Code  string `json:"code"`
		Token string `json:"token"`
		Phone string `json:"phone"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[request](w, r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		err = s.svc.Verify(r.Context(), phoneauth.VerifyRequest{Code: req.Code, Token: req.Token, Phone: req.Phone})
		if err != nil {
			s.error(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]string{"message": "User verify Successfully!"})
	})
}

func handleLogin(s *Server) http.Handler {
	type request struct {
		Phone string `json:"phone"`
	}
	type response struct {
		ExpireTime string `json:"expire_time"`
		Message    string `json:"message"`
		UserID     string `json:"user_id"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[request](w, r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		lc, err := s.svc.Login(r.Context(), phoneauth.LoginRequest{Phone: req.Phone, ClientIP: clientIP(r)})
		if err != nil {
			s.error(w, r, err)
			return
		}
		ttl := strconv.FormatInt(int64(s.svc.Policy().CodeTTL/time.Second), 10)
		encode(w, http.StatusOK, response{ExpireTime: ttl, Message: "Code Send to user", UserID: lc.UserID})
	})
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func handleLoginVerify(s *Server) http.Handler {
	type request struct {
		Code   string `json:"code"`
		UserID string `json:"user_id"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[request](w, r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		pair, err := s.svc.VerifyLogin(r.Context(), phoneauth.LoginVerifyRequest{Code: req.Code, UserID: req.UserID})
		if err != nil {
			s.error(w, r, err)
			return
		}
		encode(w, http.StatusOK, tokenResponse{AccessToken: pair.Access, RefreshToken: pair.Refresh})
	})
}

func handleRefresh(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := bearer(r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		pair, err := s.svc.Refresh(r.Context(), raw)
		if err != nil {
			s.error(w, r, err)
			return
		}
		encode(w, http.StatusOK, tokenResponse{AccessToken: pair.Access, RefreshToken: pair.Refresh})
	})
}

func handleLogout(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := bearer(r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		if err := s.svc.Logout(r.Context(), raw); err != nil {
			s.error(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]string{"message": "Logged out"})
	})
}

func handleMe(s *Server) http.Handler {
	type response struct {
		UserID    string `json:"user_id"`
		Phone     string `json:"phone"`
		Verified  bool   `json:"verified"`
		CreatedAt string `json:"created_at"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := bearer(r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		u, err := s.svc.Me(r.Context(), raw)
		if err != nil {
			s.error(w, r, err)
			return
		}
		encode(w, http.StatusOK, response{
			UserID:    u.ID,
			Phone:     u.Phone,
			Verified:  u.Verified,
			CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339),
		})
	})
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header.
// Errors: phoneauth.ErrTokenMissing, errBadAuthHeader.
func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", phoneauth.ErrTokenMissing
	}
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
		failed := s.svc.Check(ctx)
		resp := response{Status: "ok", Checks: map[string]string{"database": "ok", "limiter": "ok"}}
		status := http.StatusOK
		for name, err := range failed {
			s.log.WarnContext(r.Context(), "readiness check failed", "check", name, "err", err)
			resp.Checks[name] = "unavailable"
			resp.Status = "unavailable"
			status = http.StatusServiceUnavailable
		}
		encode(w, status, resp)
	})
}

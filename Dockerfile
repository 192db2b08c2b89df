# The phoneauth image: a static binary on distroless, run as a non-root
# user. Build with
#
#   docker build --build-arg VERSION="$(git describe --always --dirty)" -t phoneauth .
#
# It listens on 0.0.0.0:8080 and keeps a SQLite database in /data unless
# PHONEAUTH_DATABASE_URL says otherwise. The console SMS provider refuses
# any address but loopback, so give it a real provider
# (PHONEAUTH_SMS_PROVIDER=webhook, PHONEAUTH_SMS_WEBHOOK_URL) or, for a
# development container only, PHONEAUTH_SMS_CONSOLE_ANY_ADDR=true. See
# "Deploying" in README.md; compose.yaml runs a fleet of it.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# The SQLite driver is pure Go, so the binary needs no C library.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/phoneauth ./cmd/phoneauth \
	&& mkdir /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/phoneauth /phoneauth
# The nonroot user (65532) owns the database directory.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
VOLUME /data
ENV PHONEAUTH_ADDR=0.0.0.0:8080 \
	PHONEAUTH_DATABASE_URL=sqlite:/data/phoneauth.db \
	PHONEAUTH_LOG_FORMAT=json
EXPOSE 8080
# No curl or shell in the image: the binary checks itself (GET /healthz on
# the port of PHONEAUTH_ADDR, 3 s at most).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/phoneauth", "healthcheck"]
ENTRYPOINT ["/phoneauth"]
CMD ["serve"]

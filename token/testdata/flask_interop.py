"""Interoperability check between token.Signer and flask-jwt-extended.

Run by token/flask_test.go. Reads one JSON object from stdin:

    {"secret": base64 of the HS256 secret,
     "identity": subject for the tokens created here,
     "access_seconds": access TTL, "refresh_seconds": refresh TTL,
     "decode": {name: token, ...}}

and writes one JSON object to stdout:

    {"decoded": {name: {"claims": {...}} or {"error": exception class}},
     "created": {"access": token, "refresh": token}}

The secret comes on stdin, never on the command line. Exit status 3 means
Flask or flask-jwt-extended is not installed.
"""

import base64
import json
import sys
from datetime import timedelta

try:
    from flask import Flask
    from flask_jwt_extended import (
        JWTManager,
        create_access_token,
        create_refresh_token,
        decode_token,
    )
except ImportError as e:
    print("missing Python module: %s" % e.name, file=sys.stderr)
    sys.exit(3)


def main():
    req = json.load(sys.stdin)
    app = Flask(__name__)
    app.config["JWT_SECRET_KEY"] = base64.b64decode(req["secret"])
    app.config["JWT_ACCESS_TOKEN_EXPIRES"] = timedelta(seconds=req["access_seconds"])
    app.config["JWT_REFRESH_TOKEN_EXPIRES"] = timedelta(seconds=req["refresh_seconds"])
    JWTManager(app)

    out = {"decoded": {}, "created": {}}
    with app.app_context():
        for name, raw in req["decode"].items():
            try:
                out["decoded"][name] = {"claims": decode_token(raw)}
            except Exception as e:  # the class name is what the test checks
                out["decoded"][name] = {"error": type(e).__name__}
        out["created"]["access"] = create_access_token(identity=req["identity"])
        out["created"]["refresh"] = create_refresh_token(identity=req["identity"])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

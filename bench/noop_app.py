"""The baseline: a Flask endpoint that reads a JSON body and answers JSON, doing nothing
else, served by the same gunicorn configuration as the service."""

from flask import Flask, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/noop")
    def noop():
        request.get_json()
        return {"allowed": False, "revision": 0}

    return app

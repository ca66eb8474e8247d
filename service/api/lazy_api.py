"""flask-smorest's Api, documenting the blueprints when the OpenAPI document is first read.

Building the document was half of what making the app cost (about 40 ms of 77): every
worker's start paid it, and every test that makes an app, though few ever read it. The
routes are registered at once, as before; the document comes out the same, in the same
order, the first time anything reads `spec` (/openapi.json, `flask openapi write`)."""

from __future__ import annotations

import threading

import flask_smorest


class Api(flask_smorest.Api):
    def __init__(self, app=None, **kwargs):
        self._undocumented: list = []  # (blueprint, name, parameters), in registration order
        self._documenting = threading.Lock()
        super().__init__(app, **kwargs)

    @property
    def spec(self):
        if self._undocumented:
            with self._documenting:
                pending, self._undocumented = self._undocumented, []
                for blp, name, parameters in pending:
                    blp.register_views_in_doc(self, self._app, self._spec, name=name,
                                              parameters=parameters)
                    self._spec.tag({"name": name, "description": blp.description})
        return self._spec

    @spec.setter
    def spec(self, value) -> None:
        self._spec = value

    def register_blueprint(self, blp, *, parameters=None, **options) -> None:
        """flask-smorest's, with the blueprint's documentation left for `spec`."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))

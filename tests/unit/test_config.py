"""Start-up configuration: bad or missing settings stop the process, naming the key."""

from __future__ import annotations

import pytest

from service import config, create_app


@pytest.mark.parametrize("settings,key", [
    ({"AUTHZ_MODE": "production"}, "AUTHZ_ADMIN_KEY"),
    ({"AUTHZ_MODE": "production", "AUTHZ_ADMIN_KEY": config.DEV_ADMIN_KEY}, "AUTHZ_ADMIN_KEY"),
    ({"AUTHZ_MODE": "staging"}, "AUTHZ_MODE"),
    ({"AUTHZ_MODE": "production", "AUTHZ_ADMIN_KEY": "ops.0123456789abcdef0123"},
     "AUTHZ_DATABASE_URL"),
    ({"AUTHZ_SYNC_INTERVAL": "soon"}, "AUTHZ_SYNC_INTERVAL"),
    ({"AUTHZ_MAX_BATCH": 0}, "AUTHZ_MAX_BATCH"),
    ({"AUTHZ_ADMIN_KEY": "short"}, "AUTHZ_ADMIN_KEY"),
    ({"AUTHZ_MODEL_PATH": "/nonexistent/model.conf"}, "AUTHZ_MODEL_PATH"),
    ({"AUTHZ_WRITE_RATE_LIMIT": "lots"}, "AUTHZ_WRITE_RATE_LIMIT"),
    ({"AUTHZ_WRITE_RATE_LIMIT": "0/minute"}, "AUTHZ_WRITE_RATE_LIMIT"),
    ({"AUTHZ_RATE_LIMIT_REDIS_URL": "http://cache"}, "AUTHZ_RATE_LIMIT_REDIS_URL"),
    ({"AUTHZ_REQUEST_LOG": "sometimes"}, "AUTHZ_REQUEST_LOG"),
    ({"AUTHZ_MODE": "production", "AUTHZ_ADMIN_KEY": "ops.0123456789abcdef0123",
      "AUTHZ_DATABASE_URL": "sqlite://"}, "AUTHZ_SESSION_SECRET"),
    ({"AUTHZ_MODE": "production", "AUTHZ_ADMIN_KEY": "ops.0123456789abcdef0123",
      "AUTHZ_DATABASE_URL": "sqlite://", "AUTHZ_SESSION_SECRET": config.DEV_SESSION_SECRET},
     "AUTHZ_SESSION_SECRET"),
    ({"AUTHZ_SESSION_SECRET": "short"}, "AUTHZ_SESSION_SECRET"),
    ({"AUTHZ_TENANT_CACHE_MB": "lots"}, "AUTHZ_TENANT_CACHE_MB"),
    ({"AUTHZ_TENANT_CACHE_MB": 0}, "AUTHZ_TENANT_CACHE_MB"),
])
def test_bad_settings_stop_start_up_naming_the_key(settings, key):
    with pytest.raises(SystemExit) as stopped:
        create_app(settings)
    assert key in str(stopped.value)


def test_environment_is_read_with_the_prefix_and_database_url():
    settings = config.resolve(environ={"AUTHZ_MAX_BATCH": "10",
                                       "DATABASE_URL": "postgresql://db/authz"})
    assert settings.max_batch == 10
    assert settings.database_url == "postgresql+psycopg://db/authz"


def test_production_starts_with_a_real_key(tmp_path):
    app = create_app({"AUTHZ_MODE": "production",
                      "AUTHZ_ADMIN_KEY": "ops.0123456789abcdef0123456789abcdef",
                      "AUTHZ_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
                      "AUTHZ_SESSION_SECRET": "a-real-secret-of-at-least-32-characters"})
    assert app.config["AUTHZ_MODE"] == "production"

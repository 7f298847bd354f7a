"""What comes from the environment: where things are and the credentials, a secret from NAME or NAME_FILE."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import ConfigError


def secret_from_env(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """NAME, else the content of the file NAME_FILE names (surrounding whitespace dropped).

    A secret mounted as a file (Kubernetes, Docker, systemd LoadCredential) stays out of the
    process's environment, `ps` and shell history. NAME wins when both are set.
    """
    env = os.environ if environ is None else environ
    if env.get(name):
        return env[name]
    path = env.get(f"{name}_FILE")
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except OSError as exc:
        raise ConfigError("environment", f"{name}_FILE", f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError("environment", f"{name}_FILE", f"{path} is not UTF-8 text") from None


@dataclass(frozen=True)
class Settings:
    """What comes from the environment: where things are and the credentials. Never in jobs.yaml."""

    config_path: Path
    database_url: str | None
    base_url: str | None
    client_id: str | None
    secret: str | None
    metrics_token: str | None = None  # /metrics and /healthz detail on a port that receives webhooks

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            config_path=Path(env.get("MONITOR_CONFIG") or "jobs.yaml"),
            database_url=secret_from_env("MONITOR_DATABASE_URL", env),
            base_url=env.get("TRUV_BASE_URL") or None,
            client_id=secret_from_env("TRUV_CLIENT_ID", env),
            secret=secret_from_env("TRUV_SECRET", env),
            metrics_token=secret_from_env("MONITOR_METRICS_TOKEN", env),
        )

    def require_credentials(self) -> tuple[str, str]:
        missing = [n for n, v in (("TRUV_CLIENT_ID", self.client_id), ("TRUV_SECRET", self.secret)) if not v]
        if missing:
            raise ConfigError(
                "environment",
                " and ".join(missing),
                "not set; Truv credentials come only from the environment "
                "(try `monitor demo` to see the job without credentials)",
            )
        assert self.client_id and self.secret
        return self.client_id, self.secret

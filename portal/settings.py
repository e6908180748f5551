"""Portal settings: documented defaults, overridable by ``DVCLAB_PORTAL_*`` environment variables.

Uvicorn workers are separate processes, so the CLI hands settings over through the environment; one
reader here keeps every process on the same values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from dvclab.catalog import DEFAULT_CATALOG
from dvclab.paths import results_dir

ENV_PREFIX = "DVCLAB_PORTAL_"

# Rate limits use the `limits` library's notation ("N/period" or "N per period").
DEFAULT_RATE_LIMITS: dict[str, str] = {
    "public": "600/minute",  # anonymous catalog, statistics: per client IP
    "track": "60/minute",  # receipt-code tracking: per client IP (anti-enumeration, C15)
    "login_ip": "30/minute",  # login attempts per client IP, whatever the account (C04b)
    "api": "600/minute",  # authenticated API calls: per account
    "dossier_create": "60/hour",  # new dossiers per citizen (flow quota, C21)
    # new dossiers per client address, whatever the citizen (C21): a household or a cybercafe files for
    # a few people; a script cycling through stolen accounts from one address does not get 60 each
    "dossier_create_ip": "120/hour",
    "upload": "120/hour",  # file uploads per citizen
    "callback": "1200/minute",  # gateway callbacks per client IP
    "bad_token": "120/minute",  # failed bearer-token authentications per client IP (C20, guessing)
    # Phone-verification codes sent by SMS (each one paid for; C19): per phone number, as GOV.UK One
    # Login blocks a phone after 5 codes, and per client address, whatever the phone
    "otp_phone": "5/hour",
    "otp_ip": "20/hour",
}


class SettingsError(ValueError):
    """A setting has a value the portal cannot run with."""


@dataclass(slots=True)
class Settings:
    # ./results/portal/ of the folder the portal starts in, as every result of dvclab
    db_url: str = field(default_factory=lambda: f"sqlite:///{results_dir('portal', 'portal.sqlite3')}")
    redis_url: str | None = None
    workers: int = 1
    catalog_path: str = str(DEFAULT_CATALOG)
    demo_data: bool = False
    # SQLite durability: FULL fsyncs the WAL on every commit, so an acknowledged 2xx survives a killed
    # process and also a power cut; NORMAL would survive only the former.
    sqlite_synchronous: str = "FULL"
    db_pool_timeout_s: float = 5.0
    db_statement_timeout_ms: int = 5000
    # Login and sessions
    token_ttl_s: int = 1800
    lockout_threshold: int = 5
    lockout_minutes: int = 15
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456  # OWASP's minimum argon2id profile: m=19 MiB, t=2, p=1
    argon2_parallelism: int = 1
    hash_workers: int = 2  # bounded pool: each hash holds ~19 MiB
    hash_queue: int = 64  # logins waiting for the pool beyond this get 503
    # Phone verification: a 6-digit code, valid this long, with this many wrong tries
    otp_ttl_s: int = 300
    otp_max_attempts: int = 5
    # Uploads
    max_file_bytes: int = 10 * 1024 * 1024
    max_files_per_dossier: int = 20
    max_dossier_bytes: int = 100 * 1024 * 1024
    max_json_bytes: int = 64 * 1024
    # Overload and clients
    max_inflight: int = 512  # per process; beyond it requests get 503 + Retry-After
    # Idle keep-alive connections are closed after this. It must outlast the clients' idle gaps: a
    # client that sends a POST just as the server closes gets a reset it may not retry (RFC 9110
    # 9.2.2). uvicorn's own 5 s lost about one upload in 5,000 to that race under think times of 1-5 s.
    keep_alive_s: float = 75.0
    trusted_proxies: tuple[str, ...] = ()  # X-Forwarded-For is only read from these peers
    # Per-address limits count an IPv6 client by its network of this length: one subscriber's line
    # usually gets a whole /64, so its addresses are free to rotate within it. IPv4: the address.
    ipv6_prefix: int = 64
    rate_limits: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    rate_limit_strategy: str = "moving-window"
    redis_timeout_s: float = 0.2
    redis_pool_size: int = 64  # store connections per worker; a hit holds one for a round trip
    # Third parties
    gateway_url: str | None = None
    idp_url: str | None = None
    gateway_secret: str = "dvclab-dev-gateway-secret"  # noqa: S105 - documented development value
    callback_tolerance_s: int = 300
    upstream_timeout_s: float = 2.0
    stats_ttl_s: float = 5.0  # public statistics are recomputed at most this often per worker

    def validate(self) -> Settings:
        if self.workers < 1:
            raise SettingsError("--workers must be at least 1")
        if self.workers > 1 and not self.redis_url:
            raise SettingsError(
                "--workers > 1 needs a shared store for the rate limits: pass --redis URL "
                "(a limit counted per process would be a defect)"
            )
        if self.sqlite_synchronous.upper() not in ("NORMAL", "FULL", "EXTRA"):
            raise SettingsError("sqlite synchronous must be NORMAL, FULL or EXTRA (OFF loses data)")
        if self.rate_limit_strategy not in ("moving-window", "fixed-window", "sliding-window-counter"):
            raise SettingsError(f"unknown rate-limit strategy {self.rate_limit_strategy!r}")
        from limits import parse

        for name, text in self.rate_limits.items():
            if name not in DEFAULT_RATE_LIMITS:
                raise SettingsError(f"unknown rate limit {name!r}; known: {', '.join(DEFAULT_RATE_LIMITS)}")
            try:
                parse(text)
            except ValueError:
                raise SettingsError(f"rate limit {name}: cannot parse {text!r} (e.g. '60/minute')") from None
        if not self.db_url.startswith(("sqlite", "postgresql")):
            raise SettingsError("--db must be a sqlite:/// path or a postgresql:// URL")
        if self.lockout_threshold < 1 or self.max_file_bytes < 1 or self.max_files_per_dossier < 1:
            raise SettingsError("limits must be positive")
        if not 1 <= self.ipv6_prefix <= 128:
            raise SettingsError("DVCLAB_PORTAL_IPV6_PREFIX (per-address limits) must be within 1..128")
        if self.keep_alive_s <= 0:
            raise SettingsError("keep-alive timeout (DVCLAB_PORTAL_KEEP_ALIVE_S) must be positive seconds")
        if self.redis_pool_size < 1:
            raise SettingsError("DVCLAB_PORTAL_REDIS_POOL_SIZE (store connections a worker) must be >= 1")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    def to_env(self) -> dict[str, str]:
        """Serialise for worker processes (the inverse of :func:`from_env`)."""
        env: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, dict):
                for name, text in value.items():
                    env[f"{ENV_PREFIX}RATE_{name.upper()}"] = text
            elif isinstance(value, tuple):
                env[ENV_PREFIX + f.name.upper()] = ",".join(value)
            else:
                env[ENV_PREFIX + f.name.upper()] = str(value)
        return env


def _coerce(kind: object, raw: str) -> object:
    if kind in (int, "int"):
        return int(raw)
    if kind in (float, "float"):
        return float(raw)
    if kind in (bool, "bool"):
        return raw.lower() in ("1", "true", "yes", "on")
    return raw


def from_env(environ: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Defaults, then environment, then explicit overrides (CLI flags)."""
    environ = dict(os.environ if environ is None else environ)
    settings = Settings()
    types = {"int": int, "float": float, "bool": bool}
    for f in fields(Settings):
        raw = environ.get(ENV_PREFIX + f.name.upper())
        if raw is None or f.name == "rate_limits":
            continue
        annotation = str(f.type)
        try:
            if annotation.startswith("tuple"):
                value: object = tuple(p.strip() for p in raw.split(",") if p.strip())
            else:
                kind = next((t for name, t in types.items() if annotation.startswith(name)), str)
                value = _coerce(kind, raw)
        except ValueError:
            raise SettingsError(f"{ENV_PREFIX}{f.name.upper()}: cannot read {raw!r}") from None
        setattr(settings, f.name, value)
    for name in DEFAULT_RATE_LIMITS:
        raw = environ.get(f"{ENV_PREFIX}RATE_{name.upper()}")
        if raw:
            settings.rate_limits[name] = raw
    for name, value in overrides.items():
        if value is not None:
            setattr(settings, name, value)
    return settings


def sqlite_path(db_url: str) -> Path | None:
    """The file behind a ``sqlite:///`` URL (None for in-memory)."""
    prefix = "sqlite:///"
    if not db_url.startswith(prefix) or db_url == prefix or ":memory:" in db_url:
        return None
    return Path(db_url[len(prefix) :])

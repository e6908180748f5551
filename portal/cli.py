"""``dvclab portal serve``: the reference portal on uvicorn, with stub third parties.

Light at import time: FastAPI, uvicorn and SQLAlchemy are imported inside the handler.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from dvclab.processes import free_port

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _rates(pairs: list[str]) -> dict[str, str]:
    rates: dict[str, str] = {}
    for pair in pairs:
        name, sep, limit = pair.partition("=")
        if not sep or not name or not limit:
            raise ValueError(f"--rate expects NAME=LIMIT (e.g. login_ip=30/minute), got {pair!r}")
        rates[name.strip()] = limit.strip()
    return rates


def loopback_authority(host: str) -> str:
    """How this machine reaches a server bound to ``host``, as the host part of a URL. The stub
    gateway's callbacks and the printed URL go there, so it must be a family the server listens on:
    one uvicorn worker bound to `::` listens on IPv6 only (asyncio sets IPV6_V6ONLY), so [::1]."""
    if host in ("", "0.0.0.0"):  # noqa: S104 - the wildcard is recognised, not bound, here
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def serve(args: argparse.Namespace) -> int:
    from dvclab.portal.settings import SettingsError, from_env

    try:
        overrides: dict[str, Any] = {
            "workers": args.workers,
            "redis_url": args.redis,
            "demo_data": args.demo_data or None,
            "gateway_url": args.gateway_url,
            "idp_url": args.idp_url,
            "catalog_path": args.catalog,
        }
        if args.db:
            overrides["db_url"] = args.db
        settings = from_env(**overrides)
        settings.rate_limits.update(_rates(args.rate or []))
        settings.validate()
    except (SettingsError, ValueError) as bad:
        print(f"dvclab portal serve: {bad}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not 0 < args.port < 65536:
        print("dvclab portal serve: --port must be within 1..65535", file=sys.stderr)
        return EXIT_BAD_INPUT

    from dvclab.catalog import CatalogError
    from dvclab.portal import stubs

    local = loopback_authority(args.host)
    started = []
    try:
        if settings.redis_url:
            import redis

            try:
                redis.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1).ping()
            except redis.RedisError as down:
                print(
                    f"dvclab portal serve: Redis at {settings.redis_url} is not answering ({down})",
                    file=sys.stderr,
                )
                return EXIT_FAILED
        fault = {
            "latency_ms": args.stub_latency_ms,
            "error_rate": args.stub_error_rate,
            "outage": args.stub_outage,
        }
        if not settings.gateway_url:
            port = free_port()
            callback = f"http://{local}:{args.port}/api/v1/payments/callback"
            started.append(
                stubs.spawn("gateway", port, callback_url=callback, secret=settings.gateway_secret, **fault)
            )
            settings.gateway_url = f"http://127.0.0.1:{port}"
        if not settings.idp_url:
            port = free_port()
            started.append(stubs.spawn("idp", port, **fault))
            settings.idp_url = f"http://127.0.0.1:{port}"
        for process, url in zip(
            started, [u for u in (settings.gateway_url, settings.idp_url)][-len(started) :], strict=False
        ):
            if not stubs.wait_ready(url, process=process):
                print(f"dvclab portal serve: the stub at {url} did not start", file=sys.stderr)
                return EXIT_FAILED

        from dvclab.portal.app import prepare_database
        from dvclab.portal.db import Database, SchemaMismatch

        db = Database(settings)
        try:
            prepare_database(db, settings)
        except (CatalogError, SchemaMismatch) as bad:
            print(f"dvclab portal serve: {bad}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except Exception as bad:  # database unreachable, bad URL, permissions
            print(
                f"dvclab portal serve: cannot prepare the database: {type(bad).__name__}: "
                f"{str(bad).splitlines()[0][:200]}",
                file=sys.stderr,
            )
            return EXIT_FAILED
        finally:
            db.dispose()

        os.environ.update(settings.to_env())
        import uvicorn

        print(
            f"dvclab portal: http://{local}:{args.port} (workers={settings.workers}, db={settings.db_url}, "
            f"gateway={settings.gateway_url}, idp={settings.idp_url})",
            file=sys.stderr,
        )
        uvicorn.run(
            "dvclab.portal.app:worker_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=settings.workers,
            log_level=args.log_level,
            access_log=False,
            loop="uvloop",
            http="httptools",
            timeout_graceful_shutdown=5,
            timeout_keep_alive=settings.keep_alive_s,
            # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default and rewrites the client address;
            # the portal decides itself which proxies to trust (settings.trusted_proxies).
            proxy_headers=False,
        )
        return EXIT_OK
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=5)
            except Exception:
                process.kill()


def register(commands: Any) -> None:
    portal = commands.add_parser("portal", help="the reference portal (system under test)")
    actions = portal.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    parser = actions.add_parser("serve", help="serve the portal on uvicorn, with stub third parties")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (>1 needs --redis)")
    parser.add_argument(
        "--db", help="sqlite:///PATH or postgresql://… (default: results/portal/portal.sqlite3)"
    )
    parser.add_argument("--redis", help="redis://host:port/db: shared store for the rate limits")
    parser.add_argument("--demo-data", action="store_true", help="create demo citizens and officers")
    parser.add_argument(
        "--catalog", help="procedure catalog CSV (default: scenarios/catalog/nam-dinh-2024.csv)"
    )
    parser.add_argument("--gateway-url", help="real payment gateway (default: start the stub)")
    parser.add_argument("--idp-url", help="real identity provider (default: start the stub)")
    parser.add_argument("--stub-latency-ms", type=float, default=0.0, help="latency injected into stubs")
    parser.add_argument("--stub-error-rate", type=float, default=0.0, help="share of stub calls failing")
    parser.add_argument("--stub-outage", action="store_true", help="stubs answer 503 to everything")
    parser.add_argument(
        "--rate",
        action="append",
        metavar="NAME=LIMIT",
        help="override a rate limit, e.g. --rate login_ip=30/minute (repeatable)",
    )
    parser.add_argument(
        "--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug")
    )
    parser.set_defaults(handler=serve)

"""What one console serves and how: the index, the deployment it belongs to, the accounts file,
and the choices an operator makes (address, session lifetime, single sign-on)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8600


@dataclass(frozen=True)
class ConsoleConfig:
    index_url: str
    """The index's database URL (sqlite:///FILE or postgresql://...)."""
    deployment: Path
    """The deployment file the index was built for."""
    users_db: Path
    """The SQLite file of accounts, sessions and the login log (`disburse console users`)."""
    rpc_url: str | None = None
    """The chain, for its head in the freshness banner and the tokens' symbols; None: unknown."""
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    session_idle_s: int = 1800
    """A session unused this long has ended."""
    secure_cookies: bool = False
    """Set the cookies' Secure flag (behind HTTPS)."""
    trusted_header: str | None = None
    """Single sign-on: the header naming the account, accepted only from `trusted_proxies`."""
    trusted_proxies: frozenset[str] = field(default_factory=frozenset)
    poll_s: float = 0.25
    """How often /live looks at the index's cursor."""
    public_origin: str | None = None
    """The origin browsers use to reach the console (scheme://host:port), when a proxy in front
    changes it; None: the request's own Host header."""

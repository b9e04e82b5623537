"""Wiring: builds a node from its settings and runs intake API, worker, watcher/releaser and (on
a relaying node) the batcher in one process, until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import uvicorn

from disburse.chain.client import ChainClient
from disburse.chain.escrow import Escrow
from oracle.api import create_app
from oracle.config import NodeSettings
from oracle.errors import ConfigError
from oracle.intake import SpecStore
from oracle.journal import Journal
from oracle.keys import load_account, read_password
from oracle.metrics import Metrics
from oracle.node import Node
from oracle.relay import LocalRelay, RelayBatcher, RelayClient
from oracle.store import DocumentStore
from oracle.watcher import Watcher

log = logging.getLogger("oracle.service")


@dataclass
class Service:
    settings: NodeSettings
    node: Node
    watcher: Watcher
    batcher: RelayBatcher | None

    def threads(self, stop: threading.Event) -> list[threading.Thread]:
        found = [
            threading.Thread(target=self.node.run_worker, args=(stop,), name="worker", daemon=True),
            threading.Thread(target=self.watcher.run, args=(stop,), name="watcher", daemon=True),
        ]
        if self.batcher is not None:
            found.append(
                threading.Thread(target=self.batcher.run, args=(stop,), name="relay", daemon=True)
            )
        return found


def build(settings: NodeSettings) -> Service:
    """Opens keystore, journal and stores; checks the chain id; nothing runs yet."""
    deployment = settings.deployment()
    password = read_password(file=settings.password_file, env_var=settings.password_env)
    account = load_account(settings.keystore, password)
    client = ChainClient(settings.chain)
    client.check_chain()
    escrow = Escrow(client, deployment.escrow)
    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True)
    journal = Journal.open(data / "journal.sqlite3")
    metrics = Metrics()
    batcher = None
    if settings.relay:
        batcher = RelayBatcher(
            client=client,
            escrow=escrow,
            account=account,
            metrics=metrics,
            batch_size=settings.batch_size,
            batch_delay_s=settings.batch_delay_s,
            journal=journal,
        )
        batcher.restore()
    relayer: RelayClient | LocalRelay | None = None
    if settings.submission == "relay" and settings.relayer_url:
        relayer = RelayClient(settings.relayer_url, _relayer_key(settings.relayer_api_key_file))
    elif settings.submission == "relay":
        assert batcher is not None  # the settings allow no relayer_url only on a relaying node
        relayer = LocalRelay(batcher, account.address)
    node = Node(
        name=settings.name,
        client=client,
        escrow=escrow,
        account=account,
        journal=journal,
        store=DocumentStore(data / "documents", max_bytes=settings.max_document_bytes),
        specs=SpecStore(data / "specs"),
        metrics=metrics,
        relayer=relayer,
        batch_limit=settings.worker_batch_size,
        reoffer_after_s=settings.relay_reoffer_s,
    )
    watcher = Watcher(
        client=client,
        escrow=escrow,
        journal=journal,
        metrics=metrics,
        address=account.address,
        start_block=deployment.deployment_block,
        poll_interval_s=settings.poll_interval_s,
        release=settings.release,
        release_batch_size=settings.release_batch_size,
        account=account,
        on_rollback=node.chain_rolled_back,
    )
    return Service(settings, node, watcher, batcher)


def _relayer_key(path: Path | None) -> str:
    if path is None:
        raise ConfigError("submission 'relay' needs relayer_api_key_file")
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        raise ConfigError(f"no relayer API key file at {path}") from None
    if not key:
        raise ConfigError(f"{path} is empty")
    return key


def run(settings: NodeSettings) -> None:
    """Runs the node until SIGTERM/SIGINT; finishes interrupted work first."""
    service = build(settings)
    stop = threading.Event()
    service.node.recover()
    threads = service.threads(stop)
    for t in threads:
        t.start()
    app = create_app(
        service.node,
        watcher=service.watcher,
        batcher=service.batcher,
        max_document_bytes=settings.max_document_bytes,
    )
    config = uvicorn.Config(
        app, host=settings.api_host, port=settings.api_port, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()
        server.should_exit = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info(
        "node started",
        extra={"node": settings.name, "address": service.node.address, "port": settings.api_port},
    )
    server.run()
    stop.set()
    for t in threads:
        t.join(timeout=5)
    service.node.client.close()
    log.info("node stopped", extra={"node": settings.name})

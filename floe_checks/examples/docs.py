"""The docs' code and links: the ``floe`` and ``pytest`` commands shown in fenced shell
blocks are parsed by the real CLIs (never run), and relative links and anchors resolve."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from floe_checks.examples.manifests import Problem, _rel

# --- docs ------------------------------------------------------------------------------

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
_SHELL_LANGS = {"", "bash", "sh", "shell", "console", "zsh", "shell-session"}


@dataclass(frozen=True)
class CodeBlock:
    """A fenced code block of a Markdown file."""

    file: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str


def code_blocks(markdown: Path) -> list[CodeBlock]:
    """The fenced code blocks of a Markdown file, in order."""
    blocks: list[CodeBlock] = []
    lines = markdown.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, start = match["fence"], i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        blocks.append(CodeBlock(markdown, start + 1, match["info"].lower(), "\n".join(body)))
        i += 1
    return blocks


def _prose(markdown: Path) -> str:
    """The Markdown text without its fenced code blocks and inline code."""
    out: list[str] = []
    in_block: str | None = None
    for line in markdown.read_text(encoding="utf-8").splitlines():
        match = _FENCE.match(line)
        if in_block:
            if line.strip().startswith(in_block):
                in_block = None
            out.append("")
            continue
        if match:
            in_block = match["fence"]
            out.append("")
            continue
        out.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(out)


_PYTEST_PROGRAMS = {"pytest", "py.test"}


def shown_commands(markdown: Path) -> list[tuple[int, str, list[str]]]:
    """The ``floe`` and ``pytest`` commands a Markdown file shows in shell code blocks.

    Returns:
        (line, program, arguments) triples, program being ``floe`` or ``pytest``.
    """
    found: list[tuple[int, str, list[str]]] = []
    for block in code_blocks(markdown):
        if block.lang not in _SHELL_LANGS:
            continue
        logical: list[tuple[int, str]] = []
        pending, pending_line = "", 0
        for offset, raw in enumerate(block.text.splitlines(), start=1):
            line = raw.strip()
            if not pending:
                pending_line = block.line + offset
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            logical.append((pending_line, pending + line))
            pending = ""
        for line_no, line in logical:
            line = re.sub(r"^[$#>]\s+", "", line) if line[:2] in {"$ ", "> "} else line
            try:
                lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
                lexer.whitespace_split = True
                lexer.commenters = "#"
                tokens = list(lexer)
            except ValueError:
                continue
            for segment in _split_segments(tokens):
                command = _classify(segment)
                if command:
                    found.append((line_no, *command))
    return found


def _split_segments(tokens: list[str]) -> Iterator[list[str]]:
    """Split a tokenised shell line into simple commands, dropping redirections."""
    segment: list[str] = []
    redirected = False
    for token in tokens:
        if token and set(token) <= set("&|;"):
            yield segment
            segment, redirected = [], False
        elif token and set(token) <= set("<>&"):
            redirected = True  # the rest of this command is a redirection target
        elif not redirected:
            segment.append(token)
    yield segment


# A usage synopsis (`floe preflight [--env NAME] [--all | ...]`) documents a command's shape;
# it is not a command anyone runs, so it is not parsed.
_SYNOPSIS_TOKEN = re.compile(r"^\[(-|[A-Z])")


def _classify(tokens: list[str]) -> tuple[str, list[str]] | None:
    if any(_SYNOPSIS_TOKEN.match(token) for token in tokens):
        return None
    while tokens and (re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", tokens[0]) or tokens[0] == "env"):
        tokens = tokens[1:]
    if not tokens:
        return None
    program = tokens[0].rsplit("/", 1)[-1]
    if program == "floe":
        return "floe", tokens[1:]
    if program in _PYTEST_PROGRAMS:
        return "pytest", tokens[1:]
    if re.fullmatch(r"python(3(\.\d+)?)?", program) and tokens[1:3] == ["-m", "pytest"]:
        return "pytest", tokens[3:]
    return None


def floe_command_problem(args: list[str]) -> str | None:
    """Why ``floe ARGS`` would be refused by the CLI's parser, or None when it parses."""
    from floe_checks.cli import build_parser

    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(args)
    except SystemExit as exc:
        if exc.code not in (0, None):
            return stderr.getvalue().strip().splitlines()[-1] if stderr.getvalue() else "refused"
    return None


def pytest_command_problem(args: list[str], root: Path) -> str | None:
    """Why ``pytest ARGS`` would be refused, or None when pytest's own parser accepts it.

    The command is parsed, not run: pytest builds its configuration with every installed
    plugin and the repository's ini and conftest options (as ``pytest ARGS`` started in
    ``root`` would), without collecting or running anything. Test paths it names must exist.
    """
    from _pytest.config import _prepareconfig
    from _pytest.config.exceptions import UsageError

    with contextlib.chdir(root):
        try:
            config = _prepareconfig(list(args), prog="pytest")
        except UsageError as exc:
            lines = [ln for ln in str(exc).splitlines() if "error:" in ln] or [str(exc)]
            return lines[0].strip()
        except SystemExit as exc:
            return f"pytest exits while parsing ({exc.code})"
        try:
            named = list(config.option.file_or_dir or [])
        finally:
            config._ensure_unconfigure()
    for arg in named:
        path = arg.split("::", 1)[0]
        if not (root / path).exists():
            return f"test path {path!r} does not exist"
    return None


def doc_command_problems(markdown_files: Iterable[Path], root: Path) -> list[Problem]:
    """Every ``floe`` / ``pytest`` command the docs show is one the CLIs accept."""
    problems: list[Problem] = []
    for markdown in markdown_files:
        for line, program, args in shown_commands(markdown):
            if program == "floe":
                problem = floe_command_problem(args)
            else:
                problem = pytest_command_problem(args, root)
            if problem:
                shown = shlex.join([program, *args])
                problems.append(
                    Problem(f"{_rel(markdown, root)}:{line}", f"`{shown}` is refused: {problem}")
                )
    return problems


_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REF_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)


def heading_anchors(markdown: Path) -> set[str]:
    """GitHub-style anchors of a Markdown file's headings."""
    anchors: set[str] = set()
    counts: dict[str, int] = {}
    for line in _prose(markdown).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", match[1])
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        n = counts.get(slug, 0)
        counts[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def _heading_texts_with_code(markdown: Path) -> set[str]:
    # Headings keep inline code text for their anchors; _prose drops it, so add those back.
    anchors: set[str] = set()
    in_block: str | None = None
    for line in markdown.read_text(encoding="utf-8").splitlines():
        match = _FENCE.match(line)
        if in_block:
            if line.strip().startswith(in_block):
                in_block = None
            continue
        if match:
            in_block = match["fence"]
            continue
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading[1]).replace("`", "")
            anchors.add(re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-"))
    return anchors


def link_problems(markdown_files: Iterable[Path], root: Path) -> list[Problem]:
    """Every relative link (and ``#anchor``) in the docs resolves inside the repository."""
    problems: list[Problem] = []
    for markdown in markdown_files:
        prose = _prose(markdown)
        targets = _LINK.findall(prose) + _REF_LINK.findall(prose)
        for target in targets:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue  # http:, https:, mailto:
            path_part, _, anchor = target.partition("#")
            resolved = (markdown.parent / path_part).resolve() if path_part else markdown
            file = _rel(markdown, root)
            try:
                resolved.relative_to(root.resolve())
            except ValueError:
                problems.append(Problem(file, f"link {target!r} leaves the repository"))
                continue
            if not resolved.exists():
                problems.append(Problem(file, f"link {target!r} does not resolve"))
                continue
            if anchor and resolved.suffix == ".md":
                anchors = heading_anchors(resolved) | _heading_texts_with_code(resolved)
                if anchor not in anchors:
                    problems.append(Problem(file, f"link {target!r}: no heading #{anchor}"))
    return problems


def doc_files(root: Path) -> list[Path]:
    """The Markdown files whose commands and links the suite checks: README.md, docs/**
    and the examples' READMEs."""
    files = [root / "README.md"] if (root / "README.md").is_file() else []
    files += sorted((root / "docs").rglob("*.md")) if (root / "docs").is_dir() else []
    files += sorted((root / "examples").rglob("*.md")) if (root / "examples").is_dir() else []
    return files

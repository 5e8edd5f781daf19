"""Progress of long loops and the console policy of a run: one place decides what is shown.

`progress(iterable, total=, desc=)` wraps a loop (generation requests, training steps,
evaluation batches, dedupe passes). What it shows follows the console level that
`factory --quiet / --verbose` sets (`set_console`):

- on a terminal (stderr is a TTY): a tqdm bar, removed when the loop ends;
- elsewhere (DVC, CI, a pipe): a plain log line every `PLAIN_EVERY_SECONDS`, or at each
  further 10 % when at least `PLAIN_MIN_GAP_SECONDS` passed, and a closing line for a loop
  that took that long; shorter loops write their closing line to the log file only;
- `--quiet`: nothing (errors and the final result only).

Every line also goes to the stage's log file (`stage_log`), which gets the full verbose
log whatever the console shows. `use_tqdm()` tells engines with their own bars (vLLM)
whether to draw them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

log = logging.getLogger("factory")

LEVELS = {"quiet": logging.ERROR, "normal": logging.INFO, "verbose": logging.DEBUG}
"""Console level of each `--quiet` / default / `--verbose` setting."""
PLAIN_EVERY_SECONDS = 30.0
PLAIN_MIN_GAP_SECONDS = 2.0
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_console = {"level": "normal"}


class _StderrHandler(logging.StreamHandler):
    """Writes to the current `sys.stderr` (test runners and click swap it between runs)."""

    @property
    def stream(self) -> Any:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class _NotWhileBars(logging.Filter):
    """Keeps progress lines off a terminal that shows bars (the log file still gets them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "factory.progress" and bars_shown())


def set_console(level: str) -> None:
    """Set the console level ("quiet", "normal" or "verbose") and (re)attach the stderr handler."""
    _console["level"] = level
    log.setLevel(logging.DEBUG)
    for handler in [h for h in log.handlers if isinstance(h, _StderrHandler)]:
        log.removeHandler(handler)
    handler = _StderrHandler()
    handler.setLevel(LEVELS[level])
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(_NotWhileBars())
    log.addHandler(handler)


def console_level() -> str:
    """The current console level: "quiet", "normal" or "verbose"."""
    return _console["level"]


def bars_shown() -> bool:
    """True when progress is drawn as bars: not quiet, and stderr is a terminal."""
    isatty = getattr(sys.stderr, "isatty", None)
    return console_level() != "quiet" and bool(isatty and isatty())


def use_tqdm() -> bool:
    """Whether an engine's own progress bars (vLLM's `use_tqdm`) should be drawn."""
    return bars_shown()


class Progress:
    """A loop's progress: iterate over it, or call `update(n)`; `set_loss(value)` shows the latest loss."""

    def __init__(self, iterable: Optional[Iterable[Any]], total: Optional[int], desc: str, unit: str, initial: int):
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.done, self.loss, self.lines = initial, None, 0
        self.started = self.last_line = time.monotonic()
        self.last_tenth = self._tenth()
        self.bar = None
        if bars_shown():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, initial=initial, leave=False, file=sys.stderr,
                            dynamic_ncols=True)

    def __iter__(self) -> Iterator[Any]:
        try:
            for item in self.iterable or ():
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _tenth(self) -> int:
        return int(10 * self.done / self.total) if self.total else 0

    def _text(self) -> str:
        of = f"/{self.total}" if self.total else ""
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        loss = f", loss {self.loss:.4f}" if self.loss is not None else ""
        return f"{self.desc}: {self.done}{of} {self.unit}{share}{loss}, {time.monotonic() - self.started:.0f} s"

    def set_loss(self, value: float) -> None:
        """Show `value` as the latest loss (bar postfix, plain lines)."""
        self.loss = value
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{value:.4f}", refresh=False)

    def update(self, n: int = 1) -> None:
        """Count `n` more items done."""
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        now, tenth = time.monotonic(), self._tenth()
        if self.total and self.done >= self.total:
            return  # the closing line says it
        due = now - self.last_line >= PLAIN_EVERY_SECONDS
        if due or (tenth > self.last_tenth and now - self.last_line >= PLAIN_MIN_GAP_SECONDS):
            logging.getLogger("factory.progress").info(self._text())
            self.last_line, self.last_tenth, self.lines = now, tenth, self.lines + 1

    def close(self) -> None:
        """End the loop: remove the bar; a closing line (INFO if lines were written, else DEBUG)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.started is not None:
            long = self.lines or time.monotonic() - self.started >= PLAIN_MIN_GAP_SECONDS
            logging.getLogger("factory.progress").log(logging.INFO if long else logging.DEBUG, f"{self._text()}, done")
            self.started = None


def progress(iterable: Optional[Iterable[Any]] = None, total: Optional[int] = None, desc: str = "",
             unit: str = "it", initial: int = 0) -> Progress:
    """Wrap a long loop: `for x in progress(xs, desc="score")`, or `with progress(total=n) as p: p.update(k)`."""
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    return Progress(iterable, total, desc, unit, initial)


@contextlib.contextmanager
def stage_log(root: Path, stage: str, recipe: str) -> Iterator[Path]:
    """Write the full (debug) log of one stage run to <root>/logs/<stage>-<recipe>.log, replacing the last one.

    The folder is no DVC output or dependency, so writing it never makes a stage stale.
    """
    path = Path(root) / "logs" / f"{stage}-{recipe}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    log.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)  # the root: library warnings and logs reach the file too
    logging.captureWarnings(True)
    log.debug("%s %s: started (console %s, argv %s)", stage, recipe, console_level(), " ".join(sys.argv[1:]))
    try:
        yield path
    except BaseException as error:
        log.debug("%s %s: stopped: %s", stage, recipe, error)
        raise
    finally:
        logging.captureWarnings(False)
        logging.getLogger().removeHandler(handler)
        handler.close()


def _run_name(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """`<recipe>[-<setting>][-<lang>]` of a command's arguments (a recipe file counts by its stem)."""
    recipe = str(kwargs.get("recipe") or kwargs.get("model") or (args[0] if args else "") or "")
    stem = Path(recipe).stem if recipe.endswith((".yaml", ".yml")) else recipe
    parts = [stem.replace("/", "_"), kwargs.get("setting"), kwargs.get("lang")]
    return "-".join(str(part) for part in parts if part)


def logs_to_file(stage: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator of a CLI command with a recipe (and `root`): run it inside `stage_log`
    (ROOT/logs/<stage>-<recipe>[-<setting>][-<lang>].log)."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with stage_log(Path(kwargs.get("root") or "data"), stage, _run_name(args, kwargs)):
                return func(*args, **kwargs)

        return wrapper

    return decorate

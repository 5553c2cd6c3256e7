"""Run configs: a TOML file -> a validated :class:`RunConfig`, and back to resolved TOML.

A config has seven sections (see ``docs/config.md`` for every key)::

    [data]       where the market comes from: path ("demo" or a panel file / store directory),
                 names (str or list of names files), start, end, drop_bad, status
                 (a status file: code,date,is_st,prev_close per session; docs/status.md),
                 actions (corporate actions: code,ex_date,cash,bonus,transfer,rights,...)
    [signals]    the entry marks: marks = "marks.csv" (date,code[,score]) or articles = [...]
                 with the thresholds of the signals package and, optionally, the user's own
                 rule files themes_file, role_rules, matching_file (default: the packaged ones)
    [strategy] [portfolio] [costs] [fill]
                 engine parameters, validated against ``strategies.ENGINE_PARAMS`` by
                 ``strategies.resolve_params`` (defaults filled, strategy-specific keys checked)
    [report]     tearsheet = true|false: draw tearsheet.html (default true; ``--no-report``);
                 quantstats = true|false: append quantstats' full report to it (default false;
                 ``--quantstats``)

Every relative path is relative to the config file's folder. Every problem is a
:class:`~backtests.core.errors.ConfigError` naming the file, ``[section] key``, the bad value and what
was expected; unknown sections and keys get a "did you mean" suggestion.

:func:`resolved_toml` writes the config back with every default filled in. Paths in it are
written relative to the folder the TOML will live in (the run folder), so the resolved
``config.toml`` is itself a runnable config and is byte-identical on every machine with the same
layout of repository and data; only when no relative path exists (another drive) is a path
written absolute.
"""
from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

import tomli_w

from backtests.core.calendar import to_date
from backtests.core.errors import ConfigError, HypebtError, did_you_mean
from backtests.core.params import LADDER_SOURCES, check_value, describe, parse_streaks
from backtests.core.params import params_markdown as render_params
from signals.marks import SIGNAL_PARAMS
from signals.mentions import load_matching
from signals.roles import load_roles
from signals.themes import load_themes
from strategies import ENGINE_PARAMS, resolve_params
from strategies.base import WRITTEN_WHEN_SET

DEMO = "demo"
# [data] path of a run on a market loaded in Python (hypebt.backtest(market, ...)): written to
# the run folder's config.toml as is; running that config names it as not found.
IN_MEMORY = "<in-memory>"
ENGINE_SECTIONS = ("strategy", "portfolio", "costs", "fill", "filters", "gate")
# Engine sections a resolved config writes only when one of their keys is set.
OPTIONAL_SECTIONS = ("filters", "gate")
SECTIONS = ("data", "signals") + ENGINE_SECTIONS + ("report",)
REPORT_KEYS = ("tearsheet", "quantstats")
DATA_KEYS = ("path", "names", "start", "end", "drop_bad", "status", "actions")
# [signals] key -> (rule file kind of signals.config.load_toml, what it holds); the keys
# follow the `hypebt signals` options --themes, --role-rules, --matching. They end in _file /
# _rules so they cannot be mistaken for the `roles` threshold (a list of role names).
RULE_FILES = {
    "themes_file": ("themes", "theme lexicon"),
    "role_rules": ("roles", "role rules"),
    "matching_file": ("matching", "name-matching rules"),
}
SIGNALS_KEYS = ("marks", "articles", "archive") + tuple(RULE_FILES)
STORE_ARCHIVE = "store"
# Keys of every [signals] source: where the marks come from besides the news, and the user's
# exit signals (docs/strategies.md).
LADDER_KEYS = ("source", "streak", "first_board", "exits")


@dataclass(frozen=True)
class DataConfig:
    """``[data]``: ``path`` is ``"demo"`` or an absolute path; dates are ``datetime.date``."""
    path: str
    names: tuple[str, ...] = ()
    start: dt.date | None = None
    end: dt.date | None = None
    drop_bad: bool = False
    status: str | None = None
    actions: str | None = None


@dataclass(frozen=True)
class SignalsConfig:
    """``[signals]``: exactly one of ``marks`` (absolute path), ``articles`` (absolute paths,
    or ``("demo",)`` for the embedded demo articles) and ``archive`` (``"store"``: the news
    archive of the ``[data] path`` store, else of the default store; or a store directory's
    absolute path); ``options`` are the signals thresholds.
    ``themes_file``, ``role_rules``, ``matching_file``: absolute paths of the user's rule files
    (articles or archive), None for the packaged defaults; :func:`signal_rules` loads them.
    ``source``, ``streak``, ``first_board``: ladder marks and how they combine with the news
    (:mod:`backtests.features.ladder`; ``source = "ladder"`` needs no marks, articles or
    archive); ``exits``: a CSV ``date,code`` of user exit signals."""
    marks: str | None = None
    articles: tuple[str, ...] = ()
    archive: str | None = None
    options: dict = field(default_factory=dict)
    themes_file: str | None = None
    role_rules: str | None = None
    matching_file: str | None = None
    source: str = "news"           # backtests.ladder.SOURCES
    streak: tuple = ()             # ladder streaks: ints and "N+" strings
    first_board: bool = False
    exits: str | None = None       # absolute path of an exits CSV date,code


@dataclass(frozen=True)
class ReportConfig:
    """``[report]``: ``tearsheet`` = draw ``tearsheet.html`` in the run folder;
    ``quantstats`` = append quantstats' full report to it (seconds slower)."""
    tearsheet: bool = True
    quantstats: bool = False


@dataclass(frozen=True)
class RunConfig:
    """A validated run config. ``params`` maps every engine parameter name to its value
    (defaults filled in); ``source`` is the config file (None for a config built in code)."""
    data: DataConfig
    signals: SignalsConfig
    params: dict
    source: Path | None = None
    report: ReportConfig = ReportConfig()

    @property
    def stem(self) -> str:
        """Name of the default run folder ``runs/<stem>``."""
        return self.source.stem if self.source else "run"


# ---------------------------------------------------------------- engine parameter table

def engine_params() -> dict:
    """``ENGINE_PARAMS``: name -> (section, type, default, allowed, doc), where ``allowed`` is a
    tuple of choices, a ``(min, max)`` pair (inclusive, ``None`` for open) or ``None``."""
    return ENGINE_PARAMS


def signals_params(signals: SignalsConfig | None = None) -> dict:
    """The signals thresholds accepted in ``[signals]`` (same layout as :func:`engine_params`),
    from ``signals.marks.SIGNAL_PARAMS``.

    For a ``signals`` config with ``role_rules``, the ``roles`` threshold allows (and defaults
    to) the role names of that file instead of the packaged ones."""
    if signals is None or signals.role_rules is None:
        return SIGNAL_PARAMS
    return _with_role_names(SIGNAL_PARAMS, _load_rule_file("role_rules", signals.role_rules).names)


def _with_role_names(table: dict, names: tuple[str, ...]) -> dict:
    if "roles" not in table:
        return table
    section, typ, _default, _allowed, doc = table["roles"]
    return {**table, "roles": (section, typ, tuple(names), tuple(names), doc)}


def _unknown(where: str, key: str, known) -> ConfigError:
    return ConfigError(f"unknown key {where} {key}{did_you_mean(key, known)}; "
                       f"known: {', '.join(sorted(known))}")


# ---------------------------------------------------------------- reading

def parse_date(where: str, value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return to_date(str(value), what=where).astype(dt.date)
    except HypebtError:
        raise ConfigError(f"{where} = {describe(value)}: expected a date YYYY-MM-DD") from None


def _path(base: Path, where: str, value, *, must_exist: bool = True) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} = {describe(value)}: expected a file path (a string)")
    p = Path(os.path.expanduser(value))
    p = p if p.is_absolute() else base / p
    p = Path(os.path.normpath(p))
    if must_exist and not p.exists():
        raise ConfigError(f"{where} = {value!r}: file not found ({p})")
    return str(p)


def _section(doc: dict, name: str, source: str) -> dict:
    sec = doc.get(name, {})
    if not isinstance(sec, dict):
        raise ConfigError(f"{source}: [{name}] must be a table (a [{name}] section)")
    return sec


def parse_config(doc: dict, *, base_dir: str | os.PathLike = ".", source: Path | None = None
                 ) -> RunConfig:
    """Validate a parsed TOML document (a dict); relative paths are relative to ``base_dir``."""
    base = Path(base_dir).resolve()
    src = str(source) if source else "config"
    for key, value in doc.items():
        if key not in SECTIONS:
            hint = did_you_mean(key, SECTIONS)
            raise ConfigError(f"{src}: unknown section [{key}]{hint}; known: "
                              f"{', '.join(f'[{s}]' for s in SECTIONS)}")
    data = _parse_data(_section(doc, "data", src), base, src)
    signals = _parse_signals(_section(doc, "signals", src), base, src)
    params = _parse_engine(doc, src)
    report = _parse_report(_section(doc, "report", src))
    return RunConfig(data=data, signals=signals, params=params, source=source, report=report)


def _parse_report(sec: dict) -> ReportConfig:
    for key in sec:
        if key not in REPORT_KEYS:
            raise _unknown("[report]", key, REPORT_KEYS)
    return ReportConfig(
        tearsheet=check_value("[report] tearsheet", sec.get("tearsheet", True), bool, None),
        quantstats=check_value("[report] quantstats", sec.get("quantstats", False), bool, None))


def _parse_engine(doc: dict, src: str) -> dict:
    """Flatten ``[strategy] [portfolio] [costs] [fill]`` into one parameter dict, checking each
    key belongs to its section, then validate and fill defaults with
    :func:`strategies.resolve_params` (types, ranges, keys the chosen strategy does not use,
    required keys)."""
    table = engine_params()
    given = {}
    for section in ENGINE_SECTIONS:
        known = [name for name, spec in table.items() if spec[0] == section]
        for key, value in _section(doc, section, src).items():
            if key not in known:
                if key in table:
                    raise ConfigError(f"[{section}] {key}: this key belongs in "
                                      f"[{table[key][0]}]")
                raise _unknown(f"[{section}]", key, known)
            given[key] = value
    return resolve_params(given)


def _parse_data(sec: dict, base: Path, src: str) -> DataConfig:
    for key in sec:
        if key not in DATA_KEYS:
            raise _unknown("[data]", key, DATA_KEYS)
    if "path" not in sec:
        raise ConfigError(f'{src}: [data] path is missing: expected "demo", a panel file or a '
                          "store directory")
    raw = sec["path"]
    path = DEMO if raw == DEMO else _path(base, "[data] path", raw)
    names = check_value("[data] names", sec.get("names", []), list, None)
    names = tuple(_path(base, "[data] names", n) for n in names)
    start = parse_date("[data] start", sec["start"]) if "start" in sec else None
    end = parse_date("[data] end", sec["end"]) if "end" in sec else None
    if start and end and end < start:
        raise ConfigError(f"[data] end = {end} is before start = {start}")
    drop_bad = check_value("[data] drop_bad", sec.get("drop_bad", False), bool, None)
    status = (_path(base, "[data] status", sec["status"])
              if "status" in sec else None)
    actions = _path(base, "[data] actions", sec["actions"]) if "actions" in sec else None
    return DataConfig(path=path, names=names, start=start, end=end, drop_bad=drop_bad,
                      status=status, actions=actions)


def _parse_ladder(sec: dict, base: Path, has_news: bool) -> dict:
    """The ladder and exits keys of ``[signals]`` as SignalsConfig fields."""
    source = check_value("[signals] source", sec.get("source", "news"), str, LADDER_SOURCES)
    out: dict = {"source": source}
    if source == "news":
        for key in ("streak", "first_board"):
            if key in sec:
                raise ConfigError(f"[signals] {key} applies to ladder marks; set source = "
                                  f'"ladder", "news_and_ladder" or "news_or_ladder"')
    else:
        streak = sec.get("streak", [])
        parse_streaks(streak)                   # raises naming [signals] streak
        out["streak"] = tuple(streak) if isinstance(streak, list) else (streak,)
        out["first_board"] = check_value("[signals] first_board", sec.get("first_board", False),
                                         bool, None)
        if not out["streak"] and not out["first_board"]:
            raise ConfigError(f"[signals] source = {source!r} needs streak (e.g. streak = [1] "
                              f"for 一进二) or first_board = true")
    if source == "ladder" and has_news:
        raise ConfigError('[signals] source = "ladder" uses no news: remove marks/articles or '
                          'set source = "news_and_ladder" or "news_or_ladder"')
    if source in ("news_and_ladder", "news_or_ladder") and not has_news:
        raise ConfigError(f"[signals] source = {source!r} needs marks (a CSV date,code[,score]) "
                          f"or articles (a list of article files)")
    if "exits" in sec:
        out["exits"] = _path(base, "[signals] exits", sec["exits"])
    return out


def with_ladder(signals: SignalsConfig, **changes) -> SignalsConfig:
    """``signals`` with some ladder keys (``source``, ``streak``, ``first_board``) replaced and
    checked as the same ``[signals]`` table would be (a grid set's ladder values): ConfigError
    naming ``[signals] key`` for a combination a config could not hold."""
    merged = {"source": signals.source, "streak": tuple(signals.streak),
              "first_board": signals.first_board, **changes}
    sec: dict = {"source": merged["source"]}
    streak = merged["streak"]
    streak = list(streak) if isinstance(streak, (list, tuple)) else [streak]
    if streak:
        sec["streak"] = streak
    if merged["first_board"]:
        sec["first_board"] = merged["first_board"]
    has_news = bool(signals.marks or signals.articles or signals.archive)
    ladder = _parse_ladder(sec, Path("."), has_news)
    return replace(signals, source=ladder["source"],
                   streak=ladder.get("streak", ()),
                   first_board=ladder.get("first_board", False))


def _parse_signals(sec: dict, base: Path, src: str) -> SignalsConfig:
    extra = signals_params()
    known = SIGNALS_KEYS + LADDER_KEYS + tuple(extra)
    for key in sec:
        if key not in known:
            raise _unknown("[signals]", key, known)
    given = [k for k in ("marks", "articles", "archive") if k in sec]
    ladder = _parse_ladder(sec, base, bool(given))
    if ladder["source"] == "ladder":
        return SignalsConfig(**ladder)
    if len(given) != 1:
        raise ConfigError(f"{src}: [signals] needs exactly one of marks (a CSV date,code[,score]), "
                          f"articles (a list of article files) and archive (\"store\": the "
                          f"store's news archive)" + (f", not {' and '.join(given)}" if given else ""))
    has_marks = given == ["marks"]
    if has_marks:
        for key in (*RULE_FILES, *extra):
            if key in sec:
                raise ConfigError(f"[signals] {key} applies to articles, not to a marks file")
        return SignalsConfig(marks=_path(base, "[signals] marks", sec["marks"]), **ladder)
    arts, archive = (), None
    if "archive" in sec:
        raw = check_value("[signals] archive", sec["archive"], str, None)
        archive = STORE_ARCHIVE if raw == STORE_ARCHIVE else _path(base, "[signals] archive", raw)
    else:
        arts = check_value("[signals] articles", sec["articles"], list, None)
        if not arts:
            raise ConfigError("[signals] articles = []: expected at least one article file")
        arts = (DEMO,) if arts == (DEMO,) else tuple(_path(base, "[signals] articles", a)
                                                     for a in arts)
    files = {key: _path(base, f"[signals] {key}", sec[key]) for key in RULE_FILES if key in sec}
    rules = {key: _load_rule_file(key, path, shown=sec[key]) for key, path in files.items()}
    if "role_rules" in rules:                  # `roles` then names roles of the user's file
        extra = _with_role_names(extra, rules["role_rules"].names)
    options = {}
    for name, (_section_name, typ, default, limits, _doc) in extra.items():
        if name == "roles" and isinstance(sec.get(name), str) and sec[name].endswith(".toml"):
            raise ConfigError(f"[signals] roles = {sec[name]!r}: expected a list of role names; "
                              f"a role rules file is given as role_rules = {sec[name]!r}")
        options[name] = (check_value(f"[signals] {name}", sec[name], typ, limits)
                         if name in sec else default)
    return SignalsConfig(articles=arts, archive=archive, options=options, **files, **ladder)


def _load_rule_file(key: str, path: str, *, shown=None):
    """Load one ``[signals]`` rule file (``key`` in :data:`RULE_FILES`); ConfigError naming
    ``[signals] key``, the value as written (``shown``, default ``path``) and the problem."""
    loader = {"themes": load_themes, "roles": load_roles, "matching": load_matching}
    kind, what = RULE_FILES[key]
    where = f"[signals] {key} = {(path if shown is None else shown)!r}"
    try:
        return loader[kind](path)
    except HypebtError as exc:
        detail = str(exc)
    except OSError as exc:
        detail = f"cannot read {path}: {exc.strerror or exc}"
    except (TypeError, ValueError, AttributeError) as exc:   # a table where a list belongs...
        detail = f"{path}: unexpected layout ({exc})"
    raise ConfigError(f"{where}: not a valid {what} file (the layout of signals/{kind}.toml): "
                      f"{detail}")


def signal_rules(signals: SignalsConfig) -> dict:
    """The rule files of ``[signals]`` loaded, as keyword arguments of
    :class:`signals.extract.Extractor`: ``themes``, ``roles``, ``matching`` (None = packaged
    default). Raises ConfigError naming the key and the file."""
    out = {}
    for key, (kind, _what) in RULE_FILES.items():
        path = getattr(signals, key)
        out[kind] = None if path is None else _load_rule_file(key, path)
    return out


def read_toml_config(path: str | os.PathLike, parse, **kwargs):
    """Read a TOML config file and hand it to ``parse(doc, base_dir=..., source=..., **kwargs)``.

    Unreadable files and TOML syntax errors become :class:`ConfigError`; every message names
    the file once.
    """
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8-sig")  # a BOM (Notepad saves one) is no TOML
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config {p} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
                          f"offset {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config {p}: {exc.strerror or exc}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: TOML syntax error: {exc}") from None
    try:
        return parse(doc, base_dir=p.resolve().parent, source=p, **kwargs)
    except ConfigError as exc:
        msg = str(exc)
        raise ConfigError(msg if msg.startswith(str(p)) else f"{p}: {msg}") from None


def load_config(path: str | os.PathLike) -> RunConfig:
    """Read and validate a TOML config file (paths in it relative to its folder)."""
    return read_toml_config(path, parse_config)


# ---------------------------------------------------------------- writing

def _rel(path: str, base: Path | None) -> str:
    if base is None:
        return Path(path).as_posix()
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # different drive on Windows: no relative path exists
        return Path(path).as_posix()


def config_dict(cfg: RunConfig, *, relative_to: str | os.PathLike | None = None) -> dict:
    """The resolved config as a TOML-ready dict (paths relative to ``relative_to`` if given)."""
    base = Path(relative_to).resolve() if relative_to is not None else None
    d = cfg.data
    data: dict = {"path": d.path if d.path in (DEMO, IN_MEMORY) else _rel(d.path, base)}
    if d.names:
        data["names"] = [_rel(n, base) for n in d.names]
    if d.start:
        data["start"] = d.start
    if d.end:
        data["end"] = d.end
    data["drop_bad"] = d.drop_bad
    if d.status:
        data["status"] = _rel(d.status, base)
    if d.actions:
        data["actions"] = _rel(d.actions, base)
    s = cfg.signals
    if s.source == "ladder":
        signals: dict = {}
    elif s.marks:
        signals = {"marks": _rel(s.marks, base)}
    else:
        signals = ({"archive": s.archive if s.archive == STORE_ARCHIVE else _rel(s.archive, base)}
                   if s.archive else
                   {"articles": [a if a == DEMO else _rel(a, base) for a in s.articles]})
        signals.update({key: _rel(getattr(s, key), base) for key in RULE_FILES
                        if getattr(s, key) is not None})
        signals.update({k: (list(v) if isinstance(v, tuple) else v) for k, v in s.options.items()})
    if s.source != "news":                    # written only when used: older configs unchanged
        signals.update(source=s.source, streak=list(s.streak), first_board=s.first_board)
    if s.exits:
        signals["exits"] = _rel(s.exits, base)
    out = {"data": data, "signals": signals}
    table = engine_params()
    for section in ENGINE_SECTIONS:
        values = {name: (list(v) if isinstance(v := cfg.params[name], tuple) else v)
                  for name, (sec, _t, default, *_r) in table.items()
                  if sec == section and cfg.params.get(name) is not None
                  and not (name in WRITTEN_WHEN_SET and cfg.params[name] == default)}
        if values or section not in OPTIONAL_SECTIONS:
            out[section] = values
    if cfg.report != ReportConfig():     # written only when not the default (older run
        # folders stay byte-identical), each key only when it is not its default
        out["report"] = {k: v for k, v in vars(cfg.report).items()
                         if k == "tearsheet" or v != getattr(ReportConfig(), k)}
    return out


def resolved_toml(cfg: RunConfig, *, relative_to: str | os.PathLike | None = None) -> str:
    """The fully resolved config as TOML text (defaults filled; see the module doc on paths)."""
    header = "# hypebt resolved run config (every default filled in; paths relative to this file)\n"
    return header + tomli_w.dumps(config_dict(cfg, relative_to=relative_to))


# ---------------------------------------------------------------- documentation

def params_markdown() -> str:
    """The parameter tables of ``docs/config.md`` (``[signals]`` thresholds and the engine
    sections), generated from ``SIGNAL_PARAMS`` and ``ENGINE_PARAMS`` so the two cannot drift
    (``tests/test_config.py`` checks the page contains this text)."""
    return render_params([("signals", signals_params())]
                         + [(s, engine_params()) for s in ENGINE_SECTIONS])

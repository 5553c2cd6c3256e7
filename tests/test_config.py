"""Run configs: parsing, validation messages, paths, resolved TOML, marks files, shipped configs."""
from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.core.errors import ConfigError
from backtests.data.config import load_config, parse_config, resolved_toml
from backtests.data.marks import check_marks_codes, read_marks
from strategies import resolve_params
from tests.conftest import NEWS, REAL_NAMES

REPO = Path(__file__).resolve().parents[1]
MINIMAL = '[data]\npath = "demo"\n\n[signals]\nmarks = "marks.csv"\n'


def _write(folder: Path, text: str, marks: str = "date,code\n2024-03-04,600000\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "marks.csv").write_text(marks, encoding="utf-8")
    path = folder / "run.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load_config(_write(tmp_path, text))
    return str(exc.value)


def test_minimal_config_fills_defaults(tmp_path):
    cfg = load_config(_write(tmp_path / "a", MINIMAL))
    assert cfg.data.path == "demo" and cfg.data.names == () and cfg.data.drop_bad is False
    assert cfg.data.start is None and cfg.data.end is None
    assert cfg.signals.marks == str(tmp_path / "a" / "marks.csv")
    assert cfg.params == resolve_params({})
    assert cfg.params["cash"] == 1_000_000.0 and cfg.params["entry"] == "open"
    assert cfg.stem == "run"


def test_values_paths_and_dates(tmp_path):
    sub = tmp_path / "cfg"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "names.csv").write_text("code,name\n600000,浦发银行\n", encoding="utf-8")
    (tmp_path / "data" / "panel.csv").write_text("x\n", encoding="utf-8")
    text = ('[data]\npath = "../data/panel.csv"\nnames = "../data/names.csv"\n'
            'start = 2024-03-01\nend = "20240329"\ndrop_bad = true\n'
            '[signals]\nmarks = "marks.csv"\n'
            '[strategy]\nentry = "limit"\nmax_hold = 5\n'
            '[portfolio]\ncash = 200000\n[costs]\nslippage_ticks = 2\n[fill]\nvolume_cap = 0.05\n')
    cfg = load_config(_write(sub, text))
    assert cfg.data.path == str(tmp_path / "data" / "panel.csv")
    assert cfg.data.names == (str(tmp_path / "data" / "names.csv"),)
    assert cfg.data.start == dt.date(2024, 3, 1) and cfg.data.end == dt.date(2024, 3, 29)
    assert cfg.data.drop_bad is True
    p = cfg.params
    assert (p["entry"], p["max_hold"], p["cash"], p["slippage_ticks"], p["volume_cap"]) == \
        ("limit", 5, 200000.0, 2, 0.05)
    assert isinstance(p["cash"], float)


@pytest.mark.parametrize("text, expected", [
    (MINIMAL + "[stratgy]\nentry = 'open'\n",
     'unknown section [stratgy] (did you mean "strategy"?)'),
    (MINIMAL + "[strategy]\nentyr = 'open'\n",
     'unknown key [strategy] entyr (did you mean "entry"?)'),
    (MINIMAL + "[costs]\ncash = 5.0\n", "[costs] cash: this key belongs in [portfolio]"),
    (MINIMAL + "[portfolio]\ncash = 'lots'\n", "[portfolio] cash = 'lots': expected a number"),
    (MINIMAL + "[portfolio]\nposition_size = 1.5\n",
     "[portfolio] position_size = 1.5: expected a value in 0.0 .. 1.0"),
    (MINIMAL + "[strategy]\nentry = 'opne'\n",
     "[strategy] entry = 'opne': expected one of 'open', 'limit' (did you mean \"open\"?)"),
    (MINIMAL + "[strategy]\nmax_positions = 2.5\n",
     "[strategy] max_positions = 2.5: expected an integer"),
    (MINIMAL + "[strategy]\nskip_held = 1\n", "[strategy] skip_held = 1: expected true or false"),
    (MINIMAL + "[strategy]\nname = 'hold_n'\n", "[strategy] hold is required by strategy 'hold_n'"),
    (MINIMAL + "[strategy]\nname = 'hold_n'\nhold = 3\nstop_loss = 0.1\n",
     "[strategy] stop_loss = 0.1 is not a parameter of strategy 'hold_n'"),
    ('[signals]\nmarks = "marks.csv"\n', "[data] path is missing"),
    ('[data]\npath = "demo"\nnames = 3\n[signals]\nmarks = "marks.csv"\n',
     "[data] names = 3: expected a list"),
    ('[data]\npath = "demo"\nsart = "2024-01-02"\n[signals]\nmarks = "marks.csv"\n',
     'unknown key [data] sart (did you mean "start"?)'),
    ('[data]\npath = "demo"\nstart = "2024-13-45"\n[signals]\nmarks = "marks.csv"\n',
     "[data] start = '2024-13-45': expected a date YYYY-MM-DD"),
    ('[data]\npath = "demo"\nstart = 2024-03-01\nend = 2024-02-01\n[signals]\nmarks = "marks.csv"\n',
     "[data] end = 2024-02-01 is before start = 2024-03-01"),
    ('[data]\npath = "nope.csv"\n[signals]\nmarks = "marks.csv"\n',
     "[data] path = 'nope.csv': file not found"),
    ('[data]\npath = "demo"\n[signals]\nmarks = "other.csv"\n',
     "[signals] marks = 'other.csv': file not found"),
    ('[data]\npath = "demo"\n[signals]\n', "[signals] needs exactly one of marks"),
    ('[data]\npath = "demo"\n[signals]\nmarks = "marks.csv"\narticles = ["a.json"]\n',
     "needs exactly one of marks (a CSV date,code[,score]), articles (a list of article "
     "files) and archive (\"store\": the store's news archive), not marks and articles"),
    ('[data]\npath = "demo"\n[signals]\narchive = 3\n', "[signals] archive"),
    ('[data]\npath = "demo"\n[signals]\narchive = "store"\njobs = 0\n',
     "[signals] jobs = 0: expected a value in 1 .. 256"),
    ('[data]\npath = "demo"\n[signals]\narchive = "store"\njobs = "2"\n',
     "[signals] jobs = '2': expected an integer"),
    ('[data]\npath = "demo"\n[signals]\narticles = "demo"\njobs = 2\n',
     "[signals] jobs applies to archive (the store's news archive), not to articles"),
    ('[data]\npath = "demo"\n[signals]\nmark = "marks.csv"\n',
     'unknown key [signals] mark (did you mean "marks"?)'),
    ('data = 3\n[signals]\nmarks = "marks.csv"\n', "[data] must be a table"),
])
def test_errors_name_the_key_and_value(tmp_path, text, expected):
    msg = _error(tmp_path, text)
    assert expected in msg
    assert msg.startswith(str(tmp_path / "run.toml"))


def test_missing_file_and_syntax_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*nothere.toml"):
        load_config(tmp_path / "nothere.toml")
    msg = _error(tmp_path, '[data]\npath = "demo"\nstart = = 3\n')
    assert msg.startswith(f"{tmp_path / 'run.toml'}: TOML syntax error")
    assert "line 3" in msg


def test_resolved_toml_is_a_runnable_config_relative_to_its_folder(tmp_path):
    src = tmp_path / "cfg"
    cfg = load_config(_write(src, MINIMAL + "[strategy]\nmax_hold = 4\n"))
    out = tmp_path / "runs" / "x"
    text = resolved_toml(cfg, relative_to=out)
    assert text == resolved_toml(cfg, relative_to=out)
    doc = tomllib.loads(text)
    assert doc["signals"] == {"marks": "../../cfg/marks.csv"}
    assert doc["data"] == {"path": "demo", "drop_bad": False}
    assert doc["strategy"]["max_hold"] == 4 and doc["portfolio"]["cash"] == 1_000_000.0
    assert set(doc) == {"data", "signals", "strategy", "portfolio", "costs", "fill"}
    out.mkdir(parents=True)
    (out / "config.toml").write_text(text, encoding="utf-8")
    again = load_config(out / "config.toml")
    assert again.params == cfg.params and again.data == cfg.data
    assert again.signals == cfg.signals
    # without a base folder, paths are absolute
    assert tomllib.loads(resolved_toml(cfg))["signals"]["marks"] == (src / "marks.csv").as_posix()


def test_parse_config_from_dict(tmp_path):
    (tmp_path / "m.csv").write_text("date,code\n", encoding="utf-8")
    cfg = parse_config({"data": {"path": "demo", "start": dt.date(2024, 1, 2)},
                        "signals": {"marks": "m.csv"}, "strategy": {"name": "hold_n", "hold": 2}},
                       base_dir=tmp_path)
    assert cfg.params["hold"] == 2 and cfg.source is None and cfg.stem == "run"


# ---------------------------------------------------------------- [signals] rule files

THEMES = '[themes]\n"银行" = ["银行股"]\n'
ROLES = ('default_role = "plain"\ndefault_weight = 0.1\n'
         '[[role]]\nname = "hype"\nweight = 0.2\npatterns = ["涨停"]\n')
MATCHING = 'not_stocks = ["银行股"]\n'
ARTICLES = ('[data]\npath = "demo"\n[signals]\narticles = "../news/a.jsonl"\n'
            'themes_file = "../rules/themes.toml"\nrole_rules = "../rules/roles.toml"\n'
            'matching_file = "../rules/matching.toml"\n')


def _rules(tmp_path: Path, text: str = ARTICLES) -> Path:
    for folder, name, body in (("rules", "themes.toml", THEMES), ("rules", "roles.toml", ROLES),
                               ("rules", "matching.toml", MATCHING), ("news", "a.jsonl", "\n")):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / name).write_text(body, encoding="utf-8")
    return _write(tmp_path / "cfg", text)


def test_rule_files_are_paths_relative_to_the_config_and_round_trip(tmp_path):
    from backtests.data.config import signal_rules, signals_params

    cfg = load_config(_rules(tmp_path))
    s = cfg.signals
    assert (s.themes_file, s.role_rules, s.matching_file) == tuple(
        str(tmp_path / "rules" / f) for f in ("themes.toml", "roles.toml", "matching.toml"))
    # without `roles`, every role of the user's file counts (rule order, the default last)
    assert s.options["roles"] == ("hype", "plain")
    assert signals_params(s)["roles"][3] == ("hype", "plain")
    assert "hype" not in signals_params()["roles"][3]
    rules = signal_rules(s)
    assert rules["themes"].themes == {"银行": ("银行股",)}
    assert rules["roles"].weights == {"hype": 0.2, "plain": 0.1}
    assert rules["matching"].not_stocks == ("银行股",)
    assert signal_rules(load_config(REPO / "configs" / "demo.toml").signals) == {
        "themes": None, "roles": None, "matching": None}
    out = tmp_path / "runs" / "x"
    text = resolved_toml(cfg, relative_to=out)
    assert text == resolved_toml(cfg, relative_to=out)
    doc = tomllib.loads(text)["signals"]
    assert list(doc)[:4] == ["articles", "themes_file", "role_rules", "matching_file"]
    assert (doc["themes_file"], doc["role_rules"], doc["matching_file"]) == (
        "../../rules/themes.toml", "../../rules/roles.toml", "../../rules/matching.toml")
    assert doc["roles"] == ["hype", "plain"]
    out.mkdir(parents=True)
    (out / "config.toml").write_text(text, encoding="utf-8")
    again = load_config(out / "config.toml")
    assert again.signals == cfg.signals
    assert resolved_toml(again, relative_to=out) == text
    # a subset of the user's roles is accepted; a packaged role the file lacks is not
    picked = load_config(_rules(tmp_path, ARTICLES + 'roles = ["hype"]\n'))
    assert picked.signals.options["roles"] == ("hype",)
    msg = _error(tmp_path / "cfg", ARTICLES + 'roles = ["momentum"]\n')
    assert "[signals] roles = 'momentum': expected one of 'hype', 'plain'" in msg


@pytest.mark.parametrize("key, value, expected", [
    ("themes_file", "../rules/nothere.toml", "[signals] themes_file = '../rules/nothere.toml': "
                                             "file not found ("),
    ("role_rules", "../rules/themes.toml",
     "[signals] role_rules = '../rules/themes.toml': not a valid role rules file (the layout of "
     "signals/roles.toml): {rules}/themes.toml: unknown key 'themes'"),
    ("themes_file", "../rules/roles.toml",
     "[signals] themes_file = '../rules/roles.toml': not a valid theme lexicon file (the layout "
     "of signals/themes.toml): {rules}/roles.toml: unknown key 'default_role'"),
    ("matching_file", "../rules", "[signals] matching_file = '../rules': not a valid "
                                  "name-matching rules file (the layout of signals/matching.toml): "
                                  "matching rules file {rules} is a directory"),
    ("role_rules", "../rules/broken.toml", "[signals] role_rules = '../rules/broken.toml': not a "
                                           "valid role rules file (the layout of "
                                           "signals/roles.toml): {rules}/broken.toml: not valid TOML"),
    ("role_rules", "../rules/badregex.toml", "[signals] role_rules = '../rules/badregex.toml': "
                                             "not a valid role rules file (the layout of "
                                             "signals/roles.toml): {rules}/badregex.toml: "
                                             "[[role]] #1 (hype): bad regex"),
    ("role_rules", "../rules/layout.toml", "[signals] role_rules = '../rules/layout.toml': not "
                                           "a valid role rules file (the layout of "
                                           "signals/roles.toml): {rules}/layout.toml: unexpected "
                                           "layout ("),
    ("themes_file", 3, "[signals] themes_file = 3: expected a file path (a string)"),
    ("themes", "../rules/themes.toml", 'unknown key [signals] themes (did you mean "themes_file"?)'),
    ("roles_file", "../rules/roles.toml",
     'unknown key [signals] roles_file (did you mean "role_rules"?)'),
    ("matching", "../rules/matching.toml",
     'unknown key [signals] matching (did you mean "matching_file"?)'),
    ("roles", "../rules/roles.toml", "[signals] roles = '../rules/roles.toml': expected a list of "
                                     "role names; a role rules file is given as role_rules = "
                                     "'../rules/roles.toml'"),
])
def test_bad_rule_files_name_the_key_and_the_file(tmp_path, key, value, expected):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "broken.toml").write_text("role = [\n", encoding="utf-8")
    (tmp_path / "rules" / "layout.toml").write_text("role = [1]\n", encoding="utf-8")
    (tmp_path / "rules" / "badregex.toml").write_text(ROLES.replace("涨停", "涨停("),
                                                      encoding="utf-8")
    text = ('[data]\npath = "demo"\n[signals]\narticles = "../news/a.jsonl"\n'
            f"{key} = {value!r}\n".replace("'", '"'))
    with pytest.raises(ConfigError) as exc:
        load_config(_rules(tmp_path, text))
    msg = str(exc.value)
    assert msg.startswith(str(tmp_path / "cfg" / "run.toml") + ": ")
    assert expected.format(rules=tmp_path / "rules") in msg


def test_rule_files_need_articles(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "themes.toml").write_text(THEMES, encoding="utf-8")
    msg = _error(tmp_path, MINIMAL + 'themes_file = "rules/themes.toml"\n')
    assert "[signals] themes_file applies to articles, not to a marks file" in msg


# ---------------------------------------------------------------- marks files

def _marks(tmp_path: Path, text: str):
    p = tmp_path / "m.csv"
    p.write_text(text, encoding="utf-8")
    return p


def test_read_marks(tmp_path):
    df = read_marks(_marks(tmp_path, "date,code,score\n2024-12-16,002354,3\n20241217,000785,1.5\n"))
    assert df["date"].tolist() == [pd.Timestamp("2024-12-16"), pd.Timestamp("2024-12-17")]
    assert df["code"].tolist() == ["002354", "000785"]
    assert df["score"].tolist() == [3.0, 1.5]
    plain = read_marks(_marks(tmp_path, "code,date\n600000,2024-03-04\n"))
    assert plain["score"].tolist() == [1.0]
    assert len(read_marks(_marks(tmp_path, "date,code\n"))) == 0


@pytest.mark.parametrize("text, expected", [
    ("date,code\n2024-03-04,600000\n2024-03-09,600000\n",
     "row 3: date 2024-03-09 is not a trading session (previous 2024-03-08, next 2024-03-11)"),
    ("date,code\nsoon,600000\n", "row 2: date 'soon' is not a date"),
    ("date,code\n2024-03-04,60000\n", "row 2: code '60000' is not a 6-digit stock code"),
    ("date,code,score\n2024-03-04,600000,high\n", "row 2: score 'high' is not a finite number"),
    ("date,code,score\n2024-03-04,600000,nan\n", "row 2: score 'nan' is not a finite number"),
    ("date,code\n2024-03-04,600000\n2024-03-04,600000\n",
     "row 3: duplicate mark for 600000 on 2024-03-04"),
    ("date,stock\n2024-03-04,600000\n", "marks file has no 'code' column"),
    ("date,code,scor\n2024-03-04,600000,1\n", "unknown column 'scor' in marks file (did you mean"),
])
def test_bad_marks_name_the_row(tmp_path, text, expected):
    with pytest.raises(ConfigError) as exc:
        read_marks(_marks(tmp_path, text))
    assert expected in str(exc.value)
    assert str(tmp_path / "m.csv") in str(exc.value)


def test_unknown_codes(tmp_path):
    df = read_marks(_marks(tmp_path, "date,code\n2024-03-04,600000\n2024-03-04,999999\n"))
    check_marks_codes(df, np.array(["600000", "999999"]))
    with pytest.raises(ConfigError, match=r"m.csv row 3: code 999999 is not in the market data "
                                          r"\(1 unknown mark\(s\), rows 3\)"):
        check_marks_codes(df, np.array(["000001", "600000"]), source=str(tmp_path / "m.csv"))


# ---------------------------------------------------------------- shipped configs

def test_demo_configs_parse():
    cfg = load_config(REPO / "configs" / "demo.toml")
    assert cfg.data.path == "demo" and cfg.stem == "demo" and cfg.signals.articles == ("demo",)
    cfg = load_config(REPO / "configs" / "demo_marks.toml")
    assert cfg.data.path == "demo" and cfg.stem == "demo_marks"
    marks = read_marks(cfg.signals.marks)
    from backtests.data.demo import DEMO_THEMES

    expected = {(t["event_dates"][0], c) for t in DEMO_THEMES.values() for c in t["codes"]}
    assert {(str(d.date()), c) for d, c in zip(marks["date"], marks["code"])} == expected
    leaders = {t["leader"] for t in DEMO_THEMES.values()}
    assert set(marks.loc[marks["score"] == 1.0, "code"]) == leaders


def test_real_doubao_config_parses(shared_data):
    cfg = load_config(REPO / "configs" / "real_doubao.toml")
    assert Path(cfg.data.path).resolve() == (shared_data / "ashare_daily_20240719_20250523.csv.gz").resolve()
    assert cfg.data.start == dt.date(2024, 11, 1) and cfg.data.end == dt.date(2025, 2, 28)
    marks = read_marks(cfg.signals.marks)
    assert set(marks["date"]) == {pd.Timestamp("2024-12-16")}
    names = pd.read_csv(REAL_NAMES, dtype=str).set_index("code")["name"]
    article = (NEWS / "doubao_concept_20241216.md").read_text(encoding="utf-8")
    # every marked code is a listed company the article names, and the three movers lead
    for code in marks["code"]:
        assert names[code] in article
    assert set(marks["code"]) >= {"002354", "000785", "301382"}
    assert len(marks) == 13
    top = marks.loc[marks["score"] == marks["score"].max(), "code"]
    assert set(top) == {"002354", "000785", "301382"}


def test_docs_list_every_key():
    from backtests.data.config import DATA_KEYS, RULE_FILES, engine_params, signals_params

    doc = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    for key in DATA_KEYS + tuple(RULE_FILES) + tuple(engine_params()) + tuple(signals_params()):
        assert f"| `{key}` |" in doc, key


def test_real_doubao_articles_config_gives_the_same_marks(shared_data):
    from backtests.data.load import load_market
    from backtests.engine.run import load_marks

    cfg = load_config(REPO / "configs" / "real_doubao_articles.toml")
    assert [Path(a).resolve() for a in cfg.signals.articles] == [
        (NEWS / "doubao_concept_20241216.json").resolve()]
    assert cfg.signals.options["min_score"] == 0.5
    hand = read_marks(load_config(REPO / "configs" / "real_doubao.toml").signals.marks)
    # two sessions of the real market are enough to check the marks the article gives
    market = load_market(cfg.data.path, names=list(cfg.data.names), start="2024-12-16",
                         end="2024-12-17")
    marks = load_marks(cfg, market)
    assert set(marks.frame["code"]) == set(hand["code"])
    assert set(marks.frame["date"]) == {pd.Timestamp("2024-12-16")}
    top = marks.frame.loc[marks.frame["score"] == marks.frame["score"].max(), "code"]
    assert set(top) == {"002354", "000785", "301382"}

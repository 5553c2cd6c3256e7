"""Stock master: names files, former names, name folding, errors, real names files."""
from __future__ import annotations

import pandas as pd
import pytest

from backtests.core import rules
from backtests.core.errors import DataError
from backtests.core.names import name_is_st, normalize_name
from backtests.data.master import StockMaster, load_master
from tests.conftest import REAL_NAMES, REAL_NAMES_2023


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_normalize_and_st():
    assert normalize_name("万  科Ａ") == "万科A"
    assert normalize_name(" ＊ＳＴ 天娱\u3000") == "*ST天娱"
    assert name_is_st("*ST东方") and name_is_st("ＳＴ华闻") and name_is_st("S*ST前锋")
    assert not name_is_st("天娱数科") and not name_is_st("TCL科技")


def test_from_frame_akshare_code_name_columns():
    # akshare's stock_info_a_code_name() returns exactly these two columns
    m = StockMaster.from_frame(pd.DataFrame({
        "code": ["000002", "300750", "688981", "920001", "002354", "600811"],
        "name": ["万  科Ａ", "宁德时代", "中芯国际", "纬达光电", "天娱数科", "*ST东方"]}))
    f = m.frame
    assert list(f.index) == sorted(f.index) and f.index.name == "code"
    assert f.loc["300750", "board"] == rules.BOARD_CHINEXT
    assert f.loc["688981", "board"] == rules.BOARD_STAR
    assert f.loc["920001", "board"] == rules.BOARD_BSE
    assert f.loc["600811", "is_st"] and not f.loc["002354", "is_st"]
    assert pd.isna(f.loc["000002", "list_date"])
    assert m.name_of("000002") == "万  科Ａ"           # raw name kept for display
    assert m.name_of("999999") == ""
    for query in ("万科A", "万 科 Ａ", "万  科Ａ"):
        assert m.code_of(query) == "000002"
    assert m.code_of("不存在") is None
    assert m.name_index()["万科A"] == "000002"
    assert "002354" in m and len(m) == 6


def test_chinese_headers_and_former_names_column():
    m = StockMaster.from_frame(pd.DataFrame({
        "代码": ["000785", "002354"], "名称": ["居然智家", "天娱数科"],
        "上市日期": ["20150612", ""], "former_names": ["居然之家|武汉中商", "天神娱乐; 科冕木业"]}))
    assert m.former_names_of("000785") == ("居然之家", "武汉中商")
    assert m.former_names_of("002354") == ("天神娱乐", "科冕木业")
    assert m.code_of("武汉中商") == "000785" and m.code_of("科冕木业") == "002354"
    assert m.frame.loc["000785", "list_date"] == pd.Timestamp("2015-06-12")
    assert pd.isna(m.frame.loc["002354", "list_date"])


def test_load_master_merges_older_files(tmp_path):
    current = write(tmp_path, "names.csv", "code,name\n000785,居然智家\n000002,万科A\n600811,*ST东方\n")
    older = write(tmp_path, "old.csv",
                  "code,name,list_date\n000785,居然之家,1997-07-11\n000002,万  科Ａ,1991-01-29\n"
                  "000003,PT金田A,\n600811,东方集团,1994-01-06\n")
    m = load_master(current, older)
    assert m.name_of("000785") == "居然智家"
    assert m.former_names_of("000785") == ("居然之家",)
    assert m.code_of("居然之家") == "000785" and m.code_of("居然智家") == "000785"
    assert m.former_names_of("000002") == ()            # same name once folded
    assert m.frame.loc["000002", "list_date"] == pd.Timestamp("1991-01-29")
    assert m.name_of("000003") == "PT金田A"             # only in the older file: kept
    assert m.frame.loc["600811", "is_st"]               # ST from the current name
    assert m.code_of("东方集团") == "600811"


def test_ambiguous_former_names_left_out():
    m = StockMaster.from_frame(pd.DataFrame({
        "code": ["600006", "601515", "688287", "832317"],
        "name": ["东风股份", "东风科技", "观典防务甲", "观典防务乙"],
        "former_names": ["", "东风股份", "观典防务", "观典防务"]}))
    assert m.code_of("东风股份") == "600006"            # a current name beats a former one
    assert m.code_of("观典防务") is None                # former name of two stocks
    assert m.ambiguous["观典防务"] == ("688287", "832317")
    assert m.ambiguous["东风股份"] == ("600006", "601515")


def test_identical_duplicate_rows_are_fine(tmp_path):
    path = write(tmp_path, "n.csv", "code,name\n000001,平安银行\n000001,平安银行\n")
    assert len(load_master(path)) == 1


@pytest.mark.parametrize("text, pattern", [
    ("", r"names file .*n\.csv is empty \(0 bytes\)"),
    ("code,name\n", r"has a header but no rows"),
    ("code,nmae\n000001,平安银行\n", r'lacks column\(s\) name \(did you mean "nmae"\?\); found code, nmae'),
    ("code,name\n000001,平安银行\n2354,天娱数科\n", r"1 code\(s\) are not 6 digits .*leading zeros.*line 3 code='2354'"),
    ("code,name\n000001,平安银行\n000001,平安\n",
     r"code 000001 appears with different names \(line 2 name='平安银行'; line 3 name='平安'\)"),
    ("code,name,list_date\n000001,平安银行,1991-13-45\n", r"list_date must be .*line 2 list_date='1991-13-45'"),
    ("code,name\n000001,\n", r"1 row\(s\) have an empty name: line 2 code=000001"),
])
def test_bad_names_files(tmp_path, text, pattern):
    path = write(tmp_path, "n.csv", text)
    with pytest.raises(DataError, match=pattern):
        load_master(path)


def test_missing_names_file(tmp_path):
    with pytest.raises(DataError, match=r"names file .*missing\.csv not found"):
        load_master(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="at least one names file"):
        load_master()


def test_parquet_names_file(tmp_path):
    path = tmp_path / "n.parquet"
    pd.DataFrame({"code": ["000785"], "name": ["居然智家"], "list_date": [pd.Timestamp("1997-07-11")]}).to_parquet(path)
    m = load_master(path)
    assert m.frame.loc["000785", "list_date"] == pd.Timestamp("1997-07-11")


def test_real_names_files(shared_data):
    m = load_master(REAL_NAMES, REAL_NAMES_2023)
    assert m.name_of("000785") == "居然智家"
    assert m.code_of("居然之家") == "000785"
    assert m.code_of("天娱数科") == "002354"
    assert m.code_of("万科A") == "000002"
    assert m.frame.loc["000001", "list_date"] == pd.Timestamp("1991-04-03")
    current = pd.read_csv(REAL_NAMES, dtype=str)
    assert int(m.frame.loc[current["code"], "is_st"].sum()) == 137   # README: 137 ST/*ST names

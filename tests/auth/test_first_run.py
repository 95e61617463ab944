"""The first-start screen: pick the provisioning file in Qt's file dialog, see what it sets, errors beside the field."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.cli.station import check_database, first_start
from app.settings import load_settings
from app.ui.first_run import FirstRunDialog

GOOD = """\
[database]
url = "{url}"
[station]
name = "仓库工作台-07"
roles = ["拣货员", "wh_lead"]
language = "zh"
[printer]
slip = "network:192.168.1.50:9100"
profile = "80mm"
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This station's config file (not there yet: a first start), and no database named in the environment."""
    for name in [k for k in os.environ if k.startswith("ORDERHUB_") and k != "ORDERHUB_SCREENSHOTS"]:
        monkeypatch.delenv(name)
    path = tmp_path / "config" / "config.toml"
    monkeypatch.setenv("ORDERHUB_CONFIG", str(path))
    monkeypatch.setenv("ORDERHUB_DATA_DIR", str(tmp_path / "data"))
    return path


def _screen(qtbot, config: Path, folder: Path, lang: str = "zh") -> FirstRunDialog:
    dialog = FirstRunDialog(check_database, config, lang, start_dir=folder, default_station="PC-0815")
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _pick(qtbot, screen: FirstRunDialog, path: Path, shot: Path | None = None) -> None:
    """Choose ``path`` in the (Qt, not native) file dialog the 浏览… button opens."""
    screen.browse.click()
    chooser = screen.file_dialog
    assert chooser is not None and chooser.testOption(chooser.Option.DontUseNativeDialog)
    qtbot.waitUntil(chooser.isVisible, timeout=30_000)
    chooser.selectFile(str(path))
    if shot is not None:
        assert chooser.grab().save(str(shot))
    chooser.accept()
    qtbot.waitUntil(lambda: screen.path.text() == str(path), timeout=30_000)


def test_a_chosen_file_is_previewed_saved_and_an_unreachable_database_can_be_retried(qtbot, cjk_font, shots_dir,
                                                                                    config, tmp_path,
                                                                                    database_url):
    socket_dir = tmp_path / "db-socket"  # where the provisioning file says the database is: nothing there yet
    source = tmp_path / "it" / "仓库工作台.toml"
    source.parent.mkdir()
    source.write_text(GOOD.format(url=f"postgresql://postgres@/{database_url.database}?host={socket_dir}"),
                      encoding="utf-8")
    screen = _screen(qtbot, config, source.parent)
    assert first_start() and not screen.save.isEnabled()
    _pick(qtbot, screen, source, Path(shots_dir) / "first-run-file-dialog.png")
    shown = {key: label.text() for key, label in screen.rows.items()}
    assert shown["database"] == f"本机:5432 / {database_url.database}（用户 postgres）"
    assert shown["station"] == "仓库工作台-07" and shown["roles"] == "拣货员、仓管班长"
    assert shown["printer"] == "network:192.168.1.50:9100（纸宽 80mm）" and shown["language"] == "中文"
    assert not config.exists()  # nothing written by looking
    screen.save.click()
    qtbot.waitUntil(screen.database_error.isVisible, timeout=60_000)
    assert screen.database_error.text() == (f"连不上配置文件中的数据库「本机:5432 / {database_url.database}（用户 postgres）」。"
                                            "配置已保存：可以稍后点「重试连接」，或先离线启动")
    assert "db-socket" in screen.database_error.toolTip()  # the driver's own words, for IT, on hover
    assert screen.retry.isVisible() and screen.go_offline.isVisible() and screen.isVisible()
    saved = load_settings()  # saved although the database is away
    assert saved.station_name == "仓库工作台-07" and saved.allowed_roles == ("picker", "wh_lead")
    assert not first_start()
    screen.resize(screen.sizeHint())
    assert screen.grab().save(str(Path(shots_dir) / "first-run-database-away.png"))
    # the database becomes reachable at the address the file names; 重试连接 connects and the screen closes
    socket_dir.mkdir()
    real = Path(database_url.query["host"]) / f".s.PGSQL.{database_url.port or 5432}"
    (socket_dir / real.name).symlink_to(real)
    screen.retry.click()
    qtbot.waitUntil(lambda: screen.connected, timeout=60_000)
    assert screen.result() == FirstRunDialog.DialogCode.Accepted and not screen.offline


@pytest.mark.parametrize("text, said", [
    ("[station]\nname = \"仓库\n", "格式不对：第 2 行"),
    ("[station]\nroles = [\"老板\"]\n", "角色「老板」不存在。可用的角色：客服、客服组长"),
    ("[station]\nlanguage = \"fr\"\n", "界面语言「fr」不支持"),
    ("[printer]\ncolour = \"red\"\n", "不认识的设置「[printer] colour」"),
])
def test_a_file_that_cannot_be_used_says_why_beside_the_field_and_nothing_is_saved(qtbot, cjk_font, shots_dir,
                                                                                  config, tmp_path, text, said):
    source = tmp_path / "坏的.toml"
    source.write_text(text, encoding="utf-8")
    screen = _screen(qtbot, config, tmp_path)
    _pick(qtbot, screen, source)
    assert screen.file_error.isVisible() and said in screen.file_error.text()
    assert not screen.save.isEnabled() and not screen.preview_box.isVisible()
    if "老板" in text:
        screen.resize(screen.sizeHint())
        assert screen.grab().save(str(Path(shots_dir) / "first-run-unknown-role.png"))
    good = tmp_path / "好的.toml"
    good.write_text("[station]\nname = \"客服工作台-02\"\n", encoding="utf-8")
    screen.path.setText(str(good))
    screen.path.editingFinished.emit()  # typed instead of browsed
    assert not screen.file_error.isVisible() and screen.rows["station"].text() == "客服工作台-02"
    assert screen.save.isEnabled() and not config.exists()


def test_the_screen_speaks_english_and_a_missing_file_is_said_in_words(qtbot, cjk_font, shots_dir, config,
                                                                       tmp_path):
    source = tmp_path / "cs.toml"
    source.write_text('[database]\nurl = "postgresql://orderhub_station@db.xsm.local:5432/orderhub"\n'
                      'sslmode = "verify-full"\nsslrootcert = "C:/OrderHub/root.crt"\n'
                      '[station]\nlanguage = "en"\n', encoding="utf-8")
    screen = _screen(qtbot, config, tmp_path, lang="en")
    assert screen.browse.text() == "Browse…"
    screen.load(str(tmp_path / "gone.toml"))
    assert "“gone.toml” cannot be opened" in screen.file_error.text()
    _pick(qtbot, screen, source)
    shown = {key: label.text() for key, label in screen.rows.items()}
    assert shown["database"] == "db.xsm.local:5432 / orderhub (user orderhub_station)"
    assert shown["tls"] == "verify-full, root certificate C:/OrderHub/root.crt"
    assert shown["roles"] == "every role" and shown["language"] == "English"
    screen.resize(screen.sizeHint())
    assert screen.grab().save(str(Path(shots_dir) / "first-run-english.png"))


def test_skipping_keeps_the_built_in_database_and_is_not_asked_again(qtbot, cjk_font, config, tmp_path):
    screen = _screen(qtbot, config, tmp_path)
    screen.skip.click()
    assert screen.result() == FirstRunDialog.DialogCode.Accepted
    assert load_settings().station_name == "PC-0815" and load_settings().uses_embedded_database
    assert not first_start()
    assert first_start({"ORDERHUB_CONFIG": str(tmp_path / "elsewhere.toml")})
    assert not first_start({"ORDERHUB_CONFIG": str(tmp_path / "elsewhere.toml"),
                            "ORDERHUB_DATABASE_URL": "postgresql://db/orderhub"})

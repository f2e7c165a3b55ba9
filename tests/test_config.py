import os
import stat

import pytest

from piratebox import config
from piratebox.errors import ConfigError
from piratebox.storage import DataDir


def test_layers_apply_in_order_defaults_file_environment_test(tmp_path):
    folder = DataDir(tmp_path)
    folder.config_file.write_text(
        "[piratebox]\nsite_url = http://file.lan\naccess_log = yes\nlogin_attempts = 7\n"
    )
    environ = {"PIRATEBOX_SITE_URL": "http://env.lan", "OTHER": "x"}
    loaded = config.load(folder, {"LOGIN_ATTEMPTS": 9}, environ=environ)
    assert loaded["SITE_URL"] == "http://env.lan"  # environment beats the file
    assert loaded["ACCESS_LOG"] is True  # the file beats the defaults, typed
    assert loaded["LOGIN_ATTEMPTS"] == 9  # the test's dict beats everything
    assert loaded["TIMEZONE"] == config.DEFAULTS["TIMEZONE"]


def test_a_missing_file_leaves_the_defaults(tmp_path):
    assert config.load(DataDir(tmp_path), environ={}) == config.DEFAULTS


@pytest.mark.parametrize("raw", ["lots", "1.5e"])
def test_a_badly_typed_setting_is_refused_with_its_name(tmp_path, raw):
    with pytest.raises(ConfigError, match="LOGIN_ATTEMPTS"):
        config.load(DataDir(tmp_path), environ={"PIRATEBOX_LOGIN_ATTEMPTS": raw})


def test_an_unreadable_config_file_is_refused(tmp_path):
    folder = DataDir(tmp_path)
    folder.config_file.write_bytes(b"[piratebox\n\xff")
    with pytest.raises(ConfigError, match="config.ini"):
        config.load(folder, environ={})


def test_secret_key_is_made_once_and_private(tmp_path):
    folder = DataDir(tmp_path)
    first = folder.secret_key()
    assert len(first) == 64
    assert folder.secret_key() == first
    mode = stat.S_IMODE(os.stat(folder.secret_key_file).st_mode)
    assert mode == 0o600


def test_leftovers_of_interrupted_writes_are_cleaned(tmp_path):
    folder = DataDir(tmp_path)
    folder.create()
    (folder.tmp / "upload.part").write_bytes(b"half")
    (folder.tmp / "bundle").mkdir()
    assert folder.clean_tmp() == 2
    assert list(folder.tmp.iterdir()) == []


def test_cleaning_spares_a_live_process_scratch_and_removes_a_dead_one(tmp_path):
    folder = DataDir(tmp_path)
    folder.create()
    mine = folder.scratch()
    (mine / "upload-in-progress").write_bytes(b"still being written")
    dead = folder.tmp / "p999999-dead"
    dead.mkdir()
    (dead / "upload-cut").write_bytes(b"half")
    (folder.tmp / ("p999999-dead" + ".lock")).touch()  # nobody holds it: its process died
    assert folder.clean_tmp() == 1
    assert (mine / "upload-in-progress").exists()
    assert not dead.exists()
    assert folder.scratch() == mine

"""Shipped models and protocols, and the user's own folders that add to or replace them."""

import shutil

import pytest

from bci_app.decoding.loading import find_model, load_models
from bci_app.errors import ConfigError
from bci_app.protocol import list_protocols, load_protocol, protocol_path
from bci_app.resources import HOME_ENV, list_files, search_path, shipped_dir, user_dir

SHIPPED_MODELS = {"acm_mdm", "acm_ts_svm", "acm_ts_svm_grid", "csp_lda", "fgmdm", "fucone",
                  "graph_lda", "mdm", "ts_lr", "ts_lr_adapt"}
SHIPPED_PROTOCOLS = {"hand_vs_rest", "hand_vs_rest_online", "left_right_feet",
                     "left_right_hand", "left_right_hand_online"}


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    return tmp_path / "home"


def test_shipped_folders_hold_the_projects_files(home):
    assert {p.stem for p in shipped_dir("models").glob("*.yml")} == SHIPPED_MODELS
    assert {p.stem for p in shipped_dir("protocols").glob("*.toml")} == SHIPPED_PROTOCOLS
    # No user folder yet: the search path is the shipped folder alone.
    assert search_path("models") == [shipped_dir("models")]
    assert set(list_files("models")) == SHIPPED_MODELS
    with pytest.raises(ValueError, match="kind must be one of"):
        shipped_dir("recordings")


def test_user_folder_adds_and_replaces_models(home):
    mine = user_dir("models")
    assert mine == home / "models"
    mine.mkdir(parents=True)
    # A model of the user's own, and the shipped MDM replaced by a variant under its name.
    text = (shipped_dir("models") / "mdm.yml").read_text()
    (mine / "my_mdm.yml").write_text(text.replace("name: MDM\n", "name: My MDM\n", 1))
    (mine / "mdm.yml").write_text(text.replace("name: MDM\n", "name: MDM (site)\n", 1))
    names = {s.name: s.path for s in load_models()}
    assert names["My MDM"] == mine / "my_mdm.yml"
    assert names["MDM (site)"] == mine / "mdm.yml"
    assert "MDM" not in names  # replaced, not duplicated
    assert len(names) == len(SHIPPED_MODELS) + 1
    assert find_model("my_mdm").path == mine / "my_mdm.yml"
    assert find_model("ACM+MDM").path == shipped_dir("models") / "acm_mdm.yml"
    # An explicit folder is that folder only.
    assert [s.name for s in load_models(mine)] == ["MDM (site)", "My MDM"]
    with pytest.raises(ConfigError, match="no model of that name.*there: "):
        find_model("nope")


def test_user_model_with_a_shipped_models_name_is_refused(home):
    mine = user_dir("models")
    mine.mkdir(parents=True)
    shutil.copy(shipped_dir("models") / "csp_lda.yml", mine / "my_csp.yml")
    with pytest.raises(ConfigError, match=r"my_csp\.yml: field 'name': model name 'CSP\+LDA' "
                                          r"is also used by .*csp_lda\.yml"):
        load_models()


def test_user_protocols_add_and_replace(home):
    mine = user_dir("protocols")
    mine.mkdir(parents=True)
    text = (shipped_dir("protocols") / "left_right_hand.toml").read_text()
    (mine / "short_lr.toml").write_text(text.replace("trials_per_class = 20",
                                                     "trials_per_class = 5"))
    (mine / "left_right_hand.toml").write_text(text.replace("trials_per_class = 20",
                                                            "trials_per_class = 30"))
    assert set(list_protocols()) == SHIPPED_PROTOCOLS | {"short_lr"}
    assert load_protocol("short_lr").trials_per_class == 5
    assert protocol_path("left_right_hand") == mine / "left_right_hand.toml"
    assert load_protocol("left_right_hand").trials_per_class == 30
    assert load_protocol("hand_vs_rest").source == str(shipped_dir("protocols") /
                                                       "hand_vs_rest.toml")
    with pytest.raises(ConfigError, match="protocol file not found.*short_lr"):
        load_protocol("no_such_protocol")

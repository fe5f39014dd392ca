"""The data folder's mode: private when created, an existing one of ours tightened (earlier
versions left it 0755), anybody else's folder left as it is."""

from __future__ import annotations

import stat
from pathlib import Path

from oee.embedded_host import STATE_FILE, settle_data_dir_mode
from oee.run_record import record_children


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_folder_is_private_and_its_parents_are_not(tmp_path: Path) -> None:
    data_dir = tmp_path / "parent" / "data"
    settle_data_dir_mode(data_dir, traversable=False)
    assert mode(data_dir) == 0o700
    plain = tmp_path / "plain"
    plain.mkdir()
    assert mode(data_dir.parent) == mode(plain)  # an ordinary folder, as `mkdir -p` makes it


def test_an_open_data_folder_of_ours_is_closed_to_others_except_passing_through_as_root(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    (data_dir / STATE_FILE).write_text("{}")
    settle_data_dir_mode(data_dir, traversable=True)
    assert mode(data_dir) == 0o701
    settle_data_dir_mode(data_dir, traversable=False)
    assert mode(data_dir) == 0o700


def test_a_folder_that_is_not_a_data_folder_keeps_its_mode(tmp_path: Path) -> None:
    folder = tmp_path / "someone-elses"
    folder.mkdir()
    folder.chmod(0o755)
    (folder / "notes.txt").write_text("not ours")
    settle_data_dir_mode(folder, traversable=False)
    assert mode(folder) == 0o755


def test_oee_up_with_both_urls_given_makes_its_data_folder_private_too(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    record_children(data_dir, [])
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "children.json") == 0o600

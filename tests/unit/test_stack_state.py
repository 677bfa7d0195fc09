"""`make reset` (python -m infra.local.stack reset): wipes the state `make down` keeps, never under a running stack."""

import pytest

from infra.local import stack


def test_reset_wipes_the_saved_state(tmp_path, capsys):
    state = tmp_path / "state"
    state.mkdir()
    (state / "emulator.pickle").write_bytes(b"saved")

    stack.main(["reset", "--run-dir", str(tmp_path)])

    assert list(state.iterdir()) == []
    assert "emulator.pickle" in capsys.readouterr().out


def test_reset_refuses_while_a_stack_runs(tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "emulator.pickle").write_bytes(b"saved")
    (tmp_path / "stack.pid").write_text("12345")

    with pytest.raises(SystemExit, match="make down"):
        stack.main(["reset", "--run-dir", str(tmp_path)])

    assert (tmp_path / "state" / "emulator.pickle").exists()


def test_reset_without_state_says_so(tmp_path, capsys):
    stack.main(["reset", "--run-dir", str(tmp_path)])

    assert "no saved local state" in capsys.readouterr().out

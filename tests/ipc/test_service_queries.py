"""Service queries through the daemon: the UI's RemoteController.query gets the same answers as
the in-process controller, and a refusal arrives as a QueryRefused with its code."""

from __future__ import annotations

import pytest

import kiosk
from kiosk.control.query_types import UNKNOWN_QUERY, QueryRefused
from kiosk.ipc.client import NOT_ANSWERING, RemoteController
from tests.ipc.daemon_rig import controlling, start_daemon, stop_daemon

pytestmark = pytest.mark.slow


def test_the_ui_asks_the_daemon_by_name_and_an_unknown_query_is_refused() -> None:
    daemon = start_daemon()
    try:
        with controlling(daemon) as remote:
            answer = remote.query("versions")
            assert answer["software_version"] == kiosk.__version__
            assert answer["simulated_board"] is True
            with pytest.raises(QueryRefused) as refused:
                remote.query("no_such_thing")
            assert refused.value.code == UNKNOWN_QUERY
            # the link is still up: the refusal closed nothing
            assert remote.query("versions")["catalogue_version"] == answer["catalogue_version"]
    finally:
        assert stop_daemon(daemon) == 0, daemon.log_text()[-3000:]


def test_a_query_without_a_daemon_is_refused_at_once_not_hung(tmp_path) -> None:  # type: ignore[no-untyped-def]
    remote = RemoteController(str(tmp_path / "nobody.sock"))
    with pytest.raises(QueryRefused) as refused:
        remote.query("versions", timeout_s=0.5)
    assert refused.value.code == NOT_ANSWERING

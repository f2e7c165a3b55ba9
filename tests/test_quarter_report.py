"""The quarter's report for the Conseil départemental, read back with real PDF readers:
poppler's pdftotext and pdfinfo, qpdf --check, and pypdf (a test dependency) where they are
absent."""

import re
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import app as application
from models import Footfall, db
from piratebox import pdf
from piratebox.impact.quarter_report import Quarter
from tests.test_impact import add_events
from tests.test_sync import hub_of_three_villages, ok, run

POPPLER = shutil.which("pdftotext") and shutil.which("pdfinfo")
QPDF = shutil.which("qpdf")


def text_of(path):
    """The text a reader sees, whitespace as one space (lines wrap where the layout says)."""
    if POPPLER:
        text = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"],
                              capture_output=True, check=True, text=True).stdout
    else:
        from pypdf import PdfReader

        text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    return " ".join(text.split())


def check_file(path):
    """A well-formed PDF: qpdf finds nothing wrong, poppler reads its title and page size."""
    if QPDF:
        check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True,
                               check=False)
        assert check.returncode == 0, check.stdout + check.stderr
    if POPPLER:
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True,
                              check=True).stdout
        assert "Rapport d’impact" in info and "A4" in info
        return int(next(line.split()[-1] for line in info.splitlines()
                        if line.startswith("Pages:")))
    from pypdf import PdfReader

    return len(PdfReader(path).pages)


def add_footfall(rows):
    with db.connection_context(), db.atomic():
        for span, starts, phones in rows:
            Footfall.create(span=span, starts=starts, phones=phones)


def test_a_village_box_reports_its_quarter_from_the_command_line(runner, data_dir, tmp_path):
    add_events(60)  # one a day back from 18 November 2026: 49 in Q4, 11 in Q3
    add_footfall([("day", "2026-11-17", 23), ("day", "2026-11-18", 41),
                  ("week", "2026-11-16", 52), ("day", "2026-09-30", 99)])
    out = tmp_path / "rapport.pdf"
    result = runner.invoke(application.cli, ["--data", str(data_dir.path), "stats",
                                             "--report", "2026-Q4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Rapport de 2026-Q4 écrit" in result.output
    pages = check_file(out)
    text = text_of(out)
    assert "Rapport d’impact" in text and "Saint-Bonnet · T4 2026" in text
    assert "Du jeudi 1er octobre 2026 au jeudi 31 décembre 2026" in text
    assert "Échanges (objets et services) 49" in text  # the quarter's, not all 60
    # the months' chart (pypdf reads each bar's figure between the months' names)
    assert re.search(r"octobre (\d+ )?novembre (\d+ )?décembre", text)
    assert "Téléphones comptés sur 2 jours ; le plus fréquenté, mercredi 18 novembre, " \
           "en a vu 41." in text  # 30 September is in the quarter before
    for heading in ("Les chiffres du trimestre", "Fréquentation", "Comment on compte",
                    "Limites", "Sources"):
        assert heading in text
    assert "Vélos et mobilité : 116 kg CO2e, Nos Gestes Climat" in text
    assert f"{pages}/{pages}" in text  # every page says which it is


def test_an_earlier_quarter_counts_only_its_own_exchanges(runner, data_dir, tmp_path):
    add_events(60)
    out = tmp_path / "t3.pdf"
    result = runner.invoke(application.cli, ["--data", str(data_dir.path), "stats",
                                             "--report", "2026-q3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = text_of(out)
    assert "Échanges (objets et services) 11" in text
    assert "Aucune fréquentation n’a été comptée ce trimestre." in text


@pytest.mark.parametrize("arguments", [["--report", "2026-Q5", "--out"],
                                       ["--report", "T4 2026", "--out"], ["--report", "2026-Q4"]])
def test_a_report_asked_wrong_is_refused_in_one_line(runner, data_dir, tmp_path, arguments):
    out = tmp_path / "r.pdf"
    result = runner.invoke(application.cli, ["--data", str(data_dir.path), "stats", *arguments,
                                             *([str(out)] if arguments[-1] == "--out" else [])])
    assert result.exit_code != 0
    assert result.output.startswith("Erreur") and result.output.count("\n") == 1
    assert not out.exists()


def test_a_report_a_box_cannot_make_is_refused_in_french(runner, data_dir, tmp_path):
    def report(*arguments):
        return runner.invoke(application.cli, ["--data", str(data_dir.path), "stats",
                                               "--report", *arguments])

    here = report("2026-Q4", "--out", str(tmp_path / "r.pdf"), "--commune", "Marols")
    assert here.exit_code != 0 and "le rapport d’une commune se fait au centre" in here.output
    today = datetime.now(UTC).date()
    coming = Quarter.containing(Quarter.containing(today).months[3])
    future = report(str(coming), "--out", str(tmp_path / "r.pdf"))
    assert future.exit_code != 0 and "n’a pas encore commencé" in future.output
    nowhere = report("2026-Q4", "--out", str(tmp_path / "nonexist" / "r.pdf"))
    assert nowhere.exit_code != 0
    assert "ce dossier n’existe pas" in nowhere.output and "No such" not in nowhere.output
    assert not list(tmp_path.glob("r.pdf"))


def test_the_report_says_its_box_name_with_the_letters_a_pdf_can_print(runner, tmp_path):
    from piratebox import box
    from piratebox.storage import DataDir

    folder = DataDir(tmp_path / "lodz")
    box.create(folder, role="box", name="Łódź 🎉 Ştefan")
    add_footfall([("day", "2026-11-18", 7)])
    out = tmp_path / "r.pdf"
    result = runner.invoke(application.cli, ["--data", str(folder.path), "stats", "--report",
                                             "2026-Q4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = text_of(out)
    assert "Rapport d’impact Lódz Stefan · T4 2026" in text  # no "?" for Ł, 🎉 or Ş
    assert "Téléphones comptés sur 1 jour ; le plus fréquenté" in text
    assert "Prêtés 0" in text and "Rendus 0" in text  # plural labels alike


def test_the_mediator_downloads_the_report_from_the_admin_page(admin, client):
    add_events(5)
    page = admin.get("/admin/").get_data(as_text=True)
    assert "/admin/report" in page
    form = admin.get("/admin/report").get_data(as_text=True)
    assert 'action="/admin/report.pdf"' in form and 'method="get"' in form
    now = admin.application.extensions["box"].clock.now()
    last = Quarter.containing(datetime.fromtimestamp(now, UTC).date()).previous()
    assert f'<option value="{last}" selected>' in form  # the quarter just ended
    response = admin.get("/admin/report.pdf?quarter=2026-Q4")
    assert response.mimetype == "application/pdf"
    assert "rapport-cocote-2026-T4.pdf" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"%PDF-1.4") and response.data.rstrip().endswith(b"%%EOF")
    bad = admin.get("/admin/report.pdf?quarter=2026-Q9")
    assert bad.status_code == 400
    assert "comme 2026-Q4" in bad.get_data(as_text=True)


def test_the_report_is_the_mediators(app):
    visitor = app.test_client()
    assert visitor.get("/admin/report.pdf?quarter=2026-Q4").status_code == 302
    assert visitor.get("/admin/report").status_code == 302


def test_the_hub_reports_on_the_departement_and_on_each_commune(tmp_path):
    hub = hub_of_three_villages(tmp_path)  # objects given on 21 September 2026: Q3
    departement = tmp_path / "departement.pdf"
    ok(hub, "stats", "--report", "2026-Q3", "--out", str(departement))
    check_file(departement)
    text = text_of(departement)
    assert "Le département · T3 2026" in text
    assert "Échanges (objets et services) 4" in text
    assert "Par commune" in text
    assert "Du mercredi 1er juillet 2026 au mercredi 30 septembre 2026, chiffres du réseau " \
           "CoCoTe, rassemblés par le centre « hub »" in text  # not one box's
    assert "Commune Boîtes Échanges Achats évités kg CO2e Événements Personnes kg apportés " \
           "kg emportés" in text
    # boxes, exchanges, purchases avoided, kg CO2e, events, people, kilos brought and taken
    assert "Marols 1 1 0 0,0 0 0 0,0 0,0" in text
    assert "Saint-Bonnet 2 3 2 " in text
    assert "pesés aux zones de gratuité" in text
    assert "La fréquentation reste sur chaque boîte de village" in text
    commune = tmp_path / "saint-bonnet.pdf"
    ok(hub, "stats", "--report", "2026-Q3", "--out", str(commune), "--commune", "saint-bonnet")
    text = text_of(commune)
    assert "Saint-Bonnet · T3 2026" in text and "Par boîte de village" in text
    assert "Saint-Bonnet bourg 1 2 1" in text
    # a long name wraps: poppler's layout reads its second line after the row, pypdf with it
    assert ("Saint-Bonnet 1 1 1 65,9 0 0 0,0 0,0 hameau" in text
            or "Saint-Bonnet hameau 1 1 1 65,9 0 0 0,0 0,0" in text)
    assert "Marols" not in text
    refused = run(hub, "stats", "--report", "2026-Q3", "--out", str(tmp_path / "x.pdf"),
                  "--commune", "Lyon")
    assert refused.exit_code != 0 and "“Lyon”" in refused.output  # run() speaks English
    earlier = tmp_path / "q2.pdf"
    ok(hub, "stats", "--report", "2026-Q2", "--out", str(earlier))
    assert "Échanges (objets et services) 0" in text_of(earlier)
    table = ok(hub, "stats")  # in English: run() speaks it
    assert all(heading in table for heading in ("Exchanges", "Events", "People",
                                                "kg brought", "kg taken"))
    assert any(line.startswith("Marols") and line.split()[-4:] == ["0", "0", "0.0", "0.0"]
               for line in table.splitlines())


def test_the_hubs_mediator_finds_the_report_and_the_network_figures(tmp_path):
    from tests.conftest import TEST_CONFIG, post_from_page

    hub = hub_of_three_villages(tmp_path)
    ok(hub, "set-password", "--password-stdin", input="un long secret de centre\n")
    app = application.create_app({"DATA_DIR": str(hub.path), **TEST_CONFIG})
    mediator = app.test_client()
    post_from_page(mediator, "/admin/", "/admin/login", {"password": "un long secret de centre"})
    assert "Rapport trimestriel (PDF)" in mediator.get("/admin/").get_data(as_text=True)
    page = app.test_client().get("/stats/").get_data(as_text=True)
    assert "0 téléphone" not in page  # a hub has no villagers' wifi: no count of phones
    assert "ne remonte pas au centre" in page
    assert all(f"<th>{heading}</th>" in page for heading in (
        "Événements", "Personnes", "kg apportés", "kg emportés"))


def test_a_quarter_is_its_three_months_in_the_villages_time():
    quarter = Quarter.parse(" 2026-Q4 ")
    window = quarter.window("Europe/Paris")
    assert datetime.fromtimestamp(window.start, UTC) == datetime(2026, 9, 30, 22, tzinfo=UTC)
    assert datetime.fromtimestamp(window.end, UTC) == datetime(2026, 12, 31, 23, tzinfo=UTC)
    assert Quarter.parse("2027-Q1").previous() == quarter
    assert [month.month for month in quarter.months] == [10, 11, 12, 1]


WIN_ANSI_TEXT = st.text(st.characters(codec="cp1252", exclude_categories=("Cc", "Zs")),
                        min_size=1, max_size=40)


@settings(max_examples=40, deadline=None)
@given(words=st.lists(WIN_ANSI_TEXT, min_size=1, max_size=6))
def test_any_french_text_reads_back_as_written(tmp_path_factory, words):
    document = pdf.Document("essai")
    page = document.new_page()
    sentence = " ".join(words)
    for number, line in enumerate(pdf.wrap(sentence, 10, 300)):
        assert pdf.text_width(line, 10) <= 300 or len(line) == 1
        page.text(50, 60 + 14 * number, line, 10)
    path = tmp_path_factory.mktemp("pdf") / "essai.pdf"
    with open(path, "wb") as handle:
        document.write(handle)
    from pypdf import PdfReader

    read = "".join(PdfReader(path).pages[0].extract_text().split())
    assert read == "".join(sentence.split())


def test_the_report_counts_the_events_of_its_quarter_only(app, admin, tmp_path):
    from tests.test_event_counts import count, publish

    this_quarter = publish(admin, app, "Zone de gratuité d’automne", "free_zone", days=3)
    count(admin, this_quarter, attendance="85", kg_brought="300", kg_taken="250")
    earlier = publish(admin, app, "Zone de gratuité d’été", "free_zone", days=120)
    count(admin, earlier, attendance="40", kg_brought="999", kg_taken="999")
    now = app.extensions["box"].clock.now()
    quarter = Quarter.containing(datetime.fromtimestamp(now, UTC).date())
    out = tmp_path / "rapport.pdf"
    out.write_bytes(admin.get(f"/admin/report.pdf?quarter={quarter}").data)
    check_file(out)
    text = text_of(out)
    assert "Personnes venues 85" in text, text
    assert "Kilos apportés aux zones de gratuité (pesés) 300" in text
    assert "Kilos emportés des zones de gratuité (pesés) 250" in text
    assert "999" not in text

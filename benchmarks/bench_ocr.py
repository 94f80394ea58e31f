"""OCR accuracy and speed on scanned pages made here: character and word error rates against the
known text, and seconds per page, in English, French, Spanish and Portuguese.

Each text is drawn into a 300 dpi grayscale page image (DejaVu Serif 11 pt) and wrapped in a PDF
with no text layer, clean and with 2% and 8% grey specks; synth's reader (pdftoppm + Tesseract,
English first and the page's own language when its words say so) reads it back. The same pages are
also read with all four languages at once, the alternative the default was chosen against.

    .venv/bin/python benchmarks/bench_ocr.py [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "hostile"))

from scans import scanned_pdf  # noqa: E402

from synth.ingest import ocr  # noqa: E402

TEXTS = {
    "eng": [
        "# Reading Partners in Village Schools",
        "In twelve village schools, older pupils read with younger ones for twenty minutes "
        "each morning. Teachers chose the pairs, gave each partner a short card of prompts, and "
        "changed the books every fortnight. After one school year the younger readers could "
        "name more letters and read more words a minute than pupils in comparison schools.",
        "Head teachers said the programme cost almost nothing. The older partners also gained: "
        "several became more confident speakers, and their attendance improved during the term.",
    ],
    "fra": [
        "# Le tutorat entre pairs dans les écoles rurales",
        "Dans douze écoles de village, les élèves plus âgés lisent chaque matin avec les plus "
        "jeunes pendant vingt minutes. Les enseignants forment les binômes, donnent à chacun une "
        "fiche de questions et changent les livres toutes les deux semaines. Après une année, les "
        "jeunes lecteurs reconnaissent davantage de lettres et lisent plus de mots par minute.",
        "Les directeurs d'école ont souligné que le programme ne coûte presque rien. Les élèves "
        "plus âgés y gagnent aussi : leur assiduité s'est améliorée au cours du trimestre.",
    ],
    "spa": [
        "# Lectura en parejas en escuelas rurales",
        "En doce escuelas de aldea, los alumnos mayores leen cada mañana con los más pequeños "
        "durante veinte minutos. Los docentes forman las parejas, entregan a cada una una tarjeta "
        "con preguntas y cambian los libros cada quince días. Después de un año, los lectores "
        "pequeños reconocen más letras y leen más palabras por minuto que en otras escuelas.",
        "Los directores señalaron que el programa casi no cuesta nada. Los alumnos mayores "
        "también ganan: su asistencia mejoró durante el trimestre y hablan con más seguridad.",
    ],
    "por": [
        "# Leitura em pares nas escolas rurais",
        "Em doze escolas de aldeia, os alunos mais velhos leem todas as manhãs com os mais novos "
        "durante vinte minutos. Os professores formam as duplas, entregam a cada uma um cartão "
        "com perguntas e trocam os livros a cada duas semanas. Depois de um ano, os leitores "
        "mais novos reconhecem mais letras e leem mais palavras por minuto.",
        "Os diretores disseram que o programa quase não custa nada. Os alunos mais velhos também "
        "ganham: a frequência deles melhorou durante o trimestre e falam com mais confiança.",
    ],
}


def edit_distance(a: list[str] | str, b: list[str] | str) -> int:
    """Levenshtein distance between two sequences (characters or words)."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def plain(paragraphs: list[str]) -> str:
    return " ".join(p.removeprefix("# ") for p in paragraphs)


def rates(truth: str, read: str) -> tuple[float, float]:
    truth, read = re.sub(r"\s+", " ", truth).strip(), re.sub(r"\s+", " ", read).strip()
    cer = edit_distance(truth, read) / len(truth)
    wer = edit_distance(truth.split(), read.split()) / len(truth.split())
    return cer, wer


def read_all_at_once(png: bytes) -> str:
    from io import BytesIO

    from PIL import Image

    lines, _ = ocr._tesseract(Image.open(BytesIO(png)), ocr.languages(), 600, ocr.OCR_DPI)
    return " ".join(line.text for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if ocr.unavailable():
        sys.exit(ocr.unavailable())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for noise in (0.0, 2.0, 8.0):
            for lang, paragraphs in TEXTS.items():
                pdf = scanned_pdf(Path(tmp) / f"{lang}-{noise}.pdf", [paragraphs], noise=noise)
                truth = plain(paragraphs)
                start = time.perf_counter()
                page = ocr.ocr_page(pdf, 1, 600)
                seconds = time.perf_counter() - start
                cer, wer = rates(truth, " ".join(line.text for line in page.lines))
                png = ocr.render_page(pdf, 1, 600)
                start = time.perf_counter()
                cer4, wer4 = rates(truth, read_all_at_once(png))
                seconds4 = time.perf_counter() - start
                rows.append(
                    dict(
                        language=lang,
                        specks=f"{noise:.0f}%",
                        cer=round(cer, 4),
                        wer=round(wer, 4),
                        confidence=page.confidence,
                        seconds=round(seconds, 1),
                        cer_all4=round(cer4, 4),
                        wer_all4=round(wer4, 4),
                        seconds_all4=round(seconds4, 1),
                    )
                )
                print(rows[-1], file=sys.stderr)
    meta = {"machine": platform.processor() or platform.machine(), "date": time.strftime("%F")}
    if args.json:
        print(json.dumps({"meta": meta, "rows": rows}, indent=2))
        return
    head = "| language | specks | CER | WER | confidence | s/page | CER (4 at once) | WER (4) "
    print(head + "| s/page (4) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['language']} | {r['specks']} | {r['cer']:.1%} | {r['wer']:.1%} | "
            f"{r['confidence']:.0f} | {r['seconds']} | {r['cer_all4']:.1%} | {r['wer_all4']:.1%} | "
            f"{r['seconds_all4']} |"
        )


if __name__ == "__main__":
    main()

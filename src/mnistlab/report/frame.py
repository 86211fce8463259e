"""The report's frame around the lab: the overview before it; the analysis, method notes and appendix after.

Each ``*_items(run, lang)`` returns its blocks, or an empty list when the run has nothing for it.
"""

from __future__ import annotations

import math

from mnistlab import __version__, config, runfolder
from mnistlab.report.artifacts import Run
from mnistlab.report.blocks import QA, Bullets, Fig, Items, Para, Table
from mnistlab.report.exercises import step_link
from mnistlab.report.fmt import num, seconds, tr
from mnistlab.report.interpretation import analysis, method_notes
from mnistlab.report.measures import status_word, tidy
from mnistlab.report.tables import step_title


def analysis_items(run: Run, lang: str) -> list:
    items = Items(lang)
    items.h(2, tr(lang, "Analyse", "Analysis"), "analysis")
    lines = analysis(run, lang)
    items.p(" ".join(lines) if lines else tr(lang, "Pas d'analyse : aucune étape n'a de résultats.",
                                             "No analysis: no step has results."), "analysis" if lines else "missing")
    return items.blocks


def notes_items(run: Run, lang: str) -> list:
    notes = method_notes(run, lang)
    if not notes:
        return []
    items = Items(lang)
    items.h(2, tr(lang, "Notes de méthode", "Method notes"), "notes")
    items.blocks.append(Bullets(notes))
    return items.blocks


def appendix_items(run: Run, lang: str, body: list) -> list:
    """Provenance: the run, its command and machine, and which file each table, figure and answer comes from."""
    items = Items(lang)
    m = run.manifest
    items.h(2, tr(lang, "Annexe : d'où viennent les chiffres", "Appendix: where the numbers come from"), "appendix")
    hw = m.get(runfolder.M_HARDWARE) if isinstance(m.get(runfolder.M_HARDWARE), dict) else {}
    items.p(tr(lang, f"Rapport écrit par mnistlab {__version__} à partir des fichiers de l'exécution "
                     f"`{run.folder.name}`, sans réentraîner ; statut : {status_word(run.status, lang)}, "
                     f"commencée le {m.get('started', '?')}, finie le {m.get('finished', '—')}, durée "
                     f"{seconds(m.get('seconds') if finite(m.get('seconds')) else None, lang)}.",
                     f"Report written by mnistlab {__version__} from the files of run `{run.folder.name}`, without "
                     f"retraining; status: {status_word(run.status, lang)}, started {m.get('started', '?')}, "
                     f"finished {m.get('finished', '—')}, took "
                     f"{seconds(m.get('seconds') if finite(m.get('seconds')) else None, lang)}."))
    command = m.get("command") if isinstance(m.get("command"), list) else []
    items.p(tr(lang, "Commande : ", "Command: ") + "`mnistlab " + tidy(" ".join(map(str, command))) + "` ; "
            + tr(lang, "machine : ", "machine: ") + f"{hw.get('cpu', '?')}, {hw.get('logical_cores', '?')} "
            + tr(lang, "cœurs logiques.", "logical cores."))
    items.p(tr(lang, f"Régénérer ce rapport : `mnistlab report {run.folder.name}"
                     f"{' --lang en' if lang == 'en' else ''}` ; ajouter les études complémentaires : "
                     "`mnistlab run ext --out DOSSIER` ; répéter avec plusieurs graines : `mnistlab run --seeds 3`.",
               f"Rebuild this report: `mnistlab report {run.folder.name}{' --lang en' if lang == 'en' else ''}`; add "
               "the extended studies: `mnistlab run ext --out FOLDER`; repeat with several seeds: "
               "`mnistlab run --seeds 3`."), "small")
    rows = []
    for b in body:
        if isinstance(b, QA) and b.answer.sources:
            rows.append(f"**{b.key}** " + ", ".join(f"`{s}`" for s in b.answer.sources))
        elif isinstance(b, Table) and b.origin:
            rows.append(f"**{b.caption}** `{b.origin}`")
        elif isinstance(b, Fig):
            rows.append(f"**{b.figure.alt}** `{b.figure.origin}`")
    if rows:  # one compact paragraph: the body stays free of file names, the appendix stays short
        items.p(tr(lang, "Provenance de chaque réponse (par numéro de question), tableau et figure : ",
                   "Provenance of each answer (by question number), table and figure: ") + " · ".join(rows) + ".",
                "small")
    problems = run.problems
    if problems:
        items.p(tr(lang, "Fichiers illisibles ou refusés : ", "Unreadable or refused files: ") + "; ".join(problems),
                "warn")
    return items.blocks


def finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def overview_items(run: Run, lang: str) -> list:
    """What the run holds: a warning when it is partial or changed, and one row per step of the lab."""
    items = Items(lang)
    if run.status != "complete":
        reason = run.manifest.get("reason")
        why = status_word(run.status, lang) + (f" : {tidy(reason)}" if isinstance(reason, str) and reason else "")
        items.p(tr(lang, f"Cette exécution n'est pas terminée ({why}) : ce rapport présente ce qui existe et dit ce "
                         "qui manque.",
                   f"This run did not finish ({why.replace(' : ', ': ')}): this report shows what exists and says what "
                   "is missing."), "warn")
    data = run.manifest.get("data") if isinstance(run.manifest.get("data"), dict) else {}
    from_notebook = any(isinstance(d, dict) and d.get("source") == "notebook" for d in data.values())
    if data and not from_notebook:
        items.p(tr(lang, "Les chiffres de ce rapport viennent de notre chemin d'exécution rapide, qui fait les mêmes "
                         "calculs que le code du TP (mêmes modèles, pertes, optimiseurs et réglages ; les données "
                         "passent par lots préparés d'avance) ; le code donné en annexe est celui du TP.",
                   "The numbers of this report come from our fast execution path, which does the same maths as the "
                   "lab's code (same models, losses, optimisers and settings; the data go through batches prepared "
                   "ahead); the code given in the appendix is the lab's."))
    lab = config.names()
    missing = [run.step(n) for n in lab if not run.step(n).complete]
    if missing:
        items.blocks.append(Para(tr(lang, "**Ce qui manque :**", "**What is missing:**"), "missing"))
        items.blocks.append(Bullets([f"{step_title(s, lang)} ({status_word(s.status, lang)})"
                                     + (f" — {tidy(s.reason)}" if s.reason else "") for s in missing], "missing"))
    rows = []
    for name in lab:
        s = run.step(name)
        acc = (s.metrics or {}).get("test_accuracy")
        shown = num(acc, lang) if isinstance(acc, float) else "—"
        rows.append([f"[{step_title(s, lang)}](#{step_link(name)})", shown,
                     seconds(s.seconds, lang), status_word(s.status, lang)])
    items.table(Table([tr(lang, "étape", "step"), tr(lang, "précision test", "test accuracy"),
                       tr(lang, "durée", "time"), tr(lang, "statut", "status")], rows, numeric=(1, 2),
                      caption=tr(lang, "Résultats de chaque étape", "Results of each step"),
                      origin="*/metrics.json, manifest.json"))
    return items.blocks

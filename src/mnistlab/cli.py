"""The ``mnistlab`` command: parses arguments and dispatches; no logic lives here."""

from __future__ import annotations

import argparse
import sys

from mnistlab import __version__
from mnistlab.errors import MnistlabError, printable
from mnistlab.i18n import LANGS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mnistlab", description="The TP 2 deep-learning lab as one command.")
    p.add_argument("--version", action="version", version=f"mnistlab {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the lab, or some of its experiments, into a run folder")
    run.add_argument("experiments", nargs="*", metavar="EXPERIMENT",
                     help="experiment names or prefixes (ex1, ex2, ex2.cnn, ...); default: all")
    run.add_argument("--out", metavar="DIR", help="run folder (default: runs/<UTC timestamp>)")
    run.add_argument("--resume", metavar="RUN_DIR",
                     help="continue an interrupted run with its own settings: finished experiments are kept "
                          "(their files checked), the interrupted one goes on from its last completed epoch")
    run.add_argument("--data", metavar="DIR", help="folder holding the data sets (see README)")
    run.add_argument("--set", dest="overrides", action="append", metavar="KEY=VALUE", default=[],
                     help="override a setting of every selected experiment, e.g. --set epochs=50")
    run.add_argument("--trust-data", action="store_true",
                     help="use local data whose content differs from the published data set (warns)")
    run.add_argument("--lang", choices=LANGS, default="fr", help="language of figure labels")
    run.add_argument("--faithful", action="store_true",
                     help="run the lab's own code path (NumPy arrays into fit, ImageDataGenerator): slower, "
                          "same maths; for comparison")
    run.add_argument("--precision", choices=("auto", "float32", "bf16"), default=None,
                     help="bf16: mixed bfloat16 compute, faster only where the hardware has it (AVX512_BF16, "
                          "AMX, ARM bf16, GPU >= 8.0), slower elsewhere; auto: bf16 there, float32 otherwise "
                          "(default: each experiment's own, float32 for the lab)")
    run.add_argument("--extended", action="store_true",
                     help="also run the \"what if\" studies (ext.*: 50 epochs, other losses and optimizers, ...)")
    run.add_argument("--seeds", type=int, default=1, metavar="N",
                     help="repeat the activation study and the ANN/CNN comparison with N seeds (default 1)")
    _cluster_options(run)

    _sweep_parser(sub)
    _grade_parser(sub)

    rp = sub.add_parser("report", help="write report.html and report.md for a run folder (never trains)")
    rp.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by `mnistlab run`")
    rp.add_argument("--lang", choices=LANGS, default="fr", help="language of the report and its figures")
    for parser in (run, rp):  # the hand-in's title block; left as fields to fill when not given
        parser.add_argument("--author", default="", metavar="NAME", help="Nom Prénom for the report's title block")
        parser.add_argument("--group", default="", metavar="GROUP", help="the student's group, for the title block")

    nb = sub.add_parser("notebook", help="the whole lab as an executed Jupyter notebook (TP2.ipynb, TP2.html)")
    nb.add_argument("experiments", nargs="*", metavar="EXPERIMENT",
                    help="lab steps or prefixes (ex1, ex2, ex2.cnn, ...); default: the whole lab")
    nb.add_argument("--set", dest="overrides", action="append", metavar="KEY=VALUE", default=[],
                    help="override a setting, as for `mnistlab run`, e.g. --set epochs=1")
    nb.add_argument("--data", metavar="DIR", help="local folder of IDX files (mnist/, fashion-mnist/)")
    nb.add_argument("--out", metavar="DIR", help="folder to write (default: notebooks/<UTC timestamp>)")
    nb.add_argument("--no-execute", action="store_true", help="write the notebook without executing it")
    nb.add_argument("--extended", action="store_true",
                    help="also try the lab's cheap 'what if' questions (another loss, another optimizer) and "
                         "answer from them")
    nb.add_argument("--author", metavar="NAME", help="the title cell's name (left to fill otherwise)")
    nb.add_argument("--group", metavar="G", help="the title cell's group")
    nb.add_argument("--lang", choices=("fr",), default="fr", help="language of the notebook (the lab's)")

    ls = sub.add_parser("list", help="show the experiments and their settings")
    ls.add_argument("--set", dest="overrides", action="append", metavar="KEY=VALUE", default=[])

    pr = sub.add_parser("predict", help="classify your own images (digits by default, or clothes)")
    pr.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, BMP, GIF, WebP or TIFF files")
    pr.add_argument("--model", default="mnist", metavar="MODEL",
                    help="mnist (default) or fashion: the shipped models; or a run folder, an experiment "
                         "folder (runs/<stamp>/ex1) or a .keras file")
    pr.add_argument("--dataset", choices=("mnist", "fashion_mnist"),
                    help="the data set of a .keras file that has no config.json beside it")
    pr.add_argument("--top", type=int, default=3, metavar="K", help="classes shown per image, 1-10 (default 3)")
    pr.add_argument("--json", action="store_true", help="print one JSON document instead of lines")
    pr.add_argument("--save-input", metavar="DIR", help="write the 28x28 image the model saw, per file, here")
    pr.add_argument("--lang", choices=LANGS, default="fr", help="language of class names")

    sv = sub.add_parser("serve", help="a local page to draw or upload an image and see the prediction")
    sv.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sv.add_argument("--lang", choices=LANGS, default="fr", help="language of class names")
    return p


def cmd_list(args: argparse.Namespace) -> int:
    from mnistlab import config

    overrides = config.parse_overrides(args.overrides)
    lab, extended = config.names(), config.names(extended=True)
    headings = {extended[len(lab)] if len(extended) > len(lab) else None:
                "\n\"what if\" studies, run only with `mnistlab run --extended` (or by name):"}
    every = config.names(extended=True, on_demand=True)
    if len(every) > len(extended):
        headings[every[len(extended)]] = "\nimproved models, run only when named (`mnistlab run improved`):"
    width = max(len(n) for n in every) + 1
    for name in every:
        e = config.load(name, overrides)
        if name in headings:
            print(headings[name])
        if e.trains:
            val = "test set" if e.validation == "test" else f"last {e.validation_split:g} of train"
            what = (f"{e.dataset}, {e.model} {e.hidden_units if e.model == 'dense' else e.conv_filters}, "
                    f"{e.optimizer} lr {e.learning_rate:g}, {e.epochs} epochs, batch {e.batch_size}, "
                    f"validation: {val}, seed {e.seed}")
            if e.step == "activations":
                what += f", activations {', '.join(e.activations)}"
            if e.step == "augment":
                what += (f", continues {e.from_step}: rotation {e.rotation_degrees:g} deg, zoom {e.zoom:g},"
                         f" horizontal flip {str(e.horizontal_flip).lower()}")
        else:
            what = f"{e.dataset}, uses the model of {e.from_step}"
        print(f"{name:<{width}} {e.title}\n{'':<{width}} {what}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from mnistlab import config

    if args.resume:
        given = [flag for flag, value in (("EXPERIMENT", args.experiments), ("--out", args.out),
                                          ("--data", args.data), ("--set", args.overrides),
                                          ("--faithful", args.faithful), ("--precision", args.precision),
                                          ("--extended", args.extended), ("--seeds", args.seeds != 1),
                                          ("--trust-data", args.trust_data)) if value]
        if given:
            raise MnistlabError(f"--resume continues a run with the settings it started with; drop {given[0]}")
    overrides = config.parse_overrides(args.overrides)
    if args.faithful:
        overrides["faithful"] = True
    if args.precision:
        overrides["precision"] = args.precision
    if args.seeds < 1:
        raise MnistlabError(f"--seeds must be at least 1, got {args.seeds}")
    names = config.select(args.experiments, extended=args.extended)
    for n in names:  # fail on a bad override before loading TensorFlow
        config.check_seed_count(config.load(n, overrides).seed, args.seeds)
    pool = _pool(args)  # an unreachable scheduler fails here, before anything is written

    from mnistlab.backend import quiet

    quiet()
    _threads()

    from mnistlab.runner import Runner, new_run_dir

    schedule = None  # in this process
    if pool is not None:
        from mnistlab.distributed.run import OnPool

        schedule = OnPool(pool)
    if args.resume:
        run_dir = args.resume
        runner = Runner.resuming(run_dir, argv=sys.argv[1:], schedule=schedule)
        args.lang = runner.lang
    else:
        run_dir = new_run_dir() if args.out is None else args.out
        runner = Runner(run_dir, overrides=overrides, data_dir=args.data, trust_data=args.trust_data,
                        lang=args.lang, argv=sys.argv[1:], seeds=args.seeds, schedule=schedule)
    _record_author(runner.manifest, args)
    try:
        return _run_and_report(lambda: runner.run(names), runner, run_dir, args.lang, "run")
    finally:
        if pool is not None:
            pool.close()


def _run_and_report(run, runner, run_dir, lang: str, command: str) -> int:
    """Call ``run()`` and write the report of what exists whatever happens (but to a folder another process
    holds); Ctrl-C and `kill` (SIGTERM) stop it marked interrupted, resumable with ``--resume``."""
    import signal

    from mnistlab.errors import RunFolderBusy

    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        run()
    except RunFolderBusy:
        raise  # the folder is another process's: write nothing there
    except KeyboardInterrupt:
        print(printable(f"mnistlab: interrupted; what finished is in {run_dir}; continue with "
                        f"`mnistlab {command} --resume {run_dir}`"), file=sys.stderr)
        _report_after_run(run_dir, lang)
        return 130
    except BaseException:
        _report_after_run(run_dir, lang)  # a report of what exists, saying what is missing
        raise
    print(printable(f"mnistlab: {command} complete in {runner.manifest['seconds']:.0f}s: {run_dir}"),
          file=sys.stderr)
    _report_after_run(run_dir, lang)
    return 0


def _record_author(manifest: dict, args: argparse.Namespace) -> None:
    """--author / --group go into the manifest, where the report's title block reads them."""
    from mnistlab import runfolder

    for key, value in ((runfolder.M_AUTHOR, args.author), (runfolder.M_GROUP, args.group)):
        if value:
            manifest[key] = value


def _cluster_options(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, metavar="N",
                   help="run independent experiments and seeds as tasks on N worker processes on this machine "
                        "(an embedded Dask cluster)")
    g.add_argument("--cluster", metavar="ADDRESS",
                   help="run them on an existing Dask cluster: the scheduler's tcp://HOST:PORT")


def _threads() -> None:
    """This process's TensorFlow intra-op threads: $MNISTLAB_THREADS, else this machine's CPUs; the run's
    manifest records the count and every worker's trainer trains with it (the count changes the sums)."""
    from mnistlab.backend import default_threads, set_intra_op_threads
    from mnistlab.distributed.tasks import configured_threads

    set_intra_op_threads(configured_threads() or default_threads())


def _pool(args: argparse.Namespace):
    """The Dask pool of --workers / --cluster, or None (everything in this process, as without them)."""
    if not (args.workers is not None or args.cluster):
        return None
    from mnistlab.distributed.cluster import connect

    return connect(workers=args.workers, address=args.cluster)


def _sweep_parser(sub) -> None:
    sw = sub.add_parser("sweep", help="train one experiment over a grid of settings and seeds; the report "
                                      "compares them and picks one on validation")
    sw.add_argument("experiment", nargs="?", metavar="EXPERIMENT", help="a training step: ex1, ex2.ann, ex2.cnn, ...")
    sw.add_argument("--grid", action="append", default=[], metavar="KEY=[V1,V2,...]",
                    help="values to try for one setting, typed like --set (repeat for more keys: every "
                         "combination runs)")
    sw.add_argument("--seeds", type=int, default=3, metavar="N", help="seeds per setting (default 3)")
    sw.add_argument("--set", dest="overrides", action="append", metavar="KEY=VALUE", default=[],
                    help="a setting shared by every combination, e.g. --set epochs=3")
    sw.add_argument("--out", metavar="DIR", help="run folder (default: runs/<UTC timestamp>)")
    sw.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted sweep: finished tasks are kept")
    sw.add_argument("--data", metavar="DIR", help="folder holding the data sets (see README)")
    sw.add_argument("--trust-data", action="store_true", help="use local data that differs from the published")
    sw.add_argument("--lang", choices=LANGS, default="fr", help="language of the report and figures")
    _cluster_options(sw)


def _grade_parser(sub) -> None:
    g = sub.add_parser("grade", help="grade a class's lab notebooks against reference bands (docs/GRADING.md)")
    g.add_argument("submissions", metavar="SOURCE", help="a folder of .ipynb files or a Moodle 'download all' zip")
    g.add_argument("--out", required=True, metavar="DIR", help="where grades.csv, feedback/, class.html go")
    g.add_argument("--reference", metavar="PATH", help="a band file, or a run folder of `mnistlab run --seeds N` "
                                                       "(default: the shipped bands)")
    g.add_argument("--rubric", metavar="FILE", help="a rubric TOML (default: the shipped tp2 rubric)")
    g.add_argument("--execute", action="store_true", help="also re-execute each notebook, sandboxed")
    g.add_argument("--workers", type=int, default=1, metavar="N", help="notebooks executed at once on this machine")
    g.add_argument("--cluster", metavar="ADDRESS", help="execute on the workers of this Dask scheduler (tcp://HOST:PORT)")
    g.add_argument("--timeout", type=float, default=1800.0, metavar="S", help="per notebook (default 1800 s)")
    g.add_argument("--memory", type=int, default=4096, metavar="MB", help="per notebook (default 4096 MB)")
    g.add_argument("--keras-home", metavar="DIR", help="Keras cache folder holding the data sets, for --execute")
    g.add_argument("--data", metavar="DIR", help="folder serving the lab's load_data() inside the sandbox, "
                                                 "for --execute (as `mnistlab notebook --data`)")
    g.add_argument("--quick", action="store_true", help="with --execute: 1 epoch on slices, a check that the code "
                                                        "runs (provenance), not of its results")
    g.add_argument("--only", action="append", metavar="STUDENT", help="re-grade this student only (repeat)")
    g.add_argument("--lang", choices=LANGS, default="fr", help="language of the feedback")
    g.add_argument("--worksheet", metavar="FILE", help="Moodle's offline grading worksheet (CSV) downloaded from "
                                                      "the assignment: filled and written back under --out")
    g.add_argument("--scale", type=float, metavar="MAX", help="the assignment's maximum grade, e.g. 20 (default: the "
                                                             "worksheet's Maximum grade, else the rubric's points)")


def cmd_grade(args: argparse.Namespace) -> int:
    from mnistlab import grade

    if args.workers < 1 or args.timeout <= 0 or args.memory < 256:
        raise MnistlabError("--workers must be >= 1, --timeout > 0 and --memory >= 256")
    if args.cluster and not args.execute:
        raise MnistlabError("--cluster runs executions: give it with --execute")
    if (args.data or args.quick) and not args.execute:
        raise MnistlabError("--data and --quick are for executions: give them with --execute")
    if args.scale is not None and not 0 < args.scale < 1e6:
        raise MnistlabError("--scale must be a maximum grade > 0, e.g. 20")
    opts = grade.Options(reference=args.reference, rubric=args.rubric, execute=args.execute, workers=args.workers,
                         cluster=args.cluster, timeout_s=args.timeout, memory_mb=args.memory,
                         keras_home=args.keras_home, data=args.data, quick=args.quick,
                         only=args.only, lang=args.lang, worksheet=args.worksheet, scale=args.scale)
    entries = grade.grade(args.submissions, args.out, opts)
    ok = sum(e["status"] == "OK" for e in entries)
    print(printable(f"mnistlab: graded {ok}/{len(entries)} submissions: {args.out}/grades.csv"), file=sys.stderr)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from mnistlab.distributed import sweep

    req = sweep.Request(experiment=args.experiment, grid=tuple(args.grid or ()),
                        overrides=tuple(args.overrides or ()), seeds=args.seeds, out=args.out, data=args.data,
                        trust_data=args.trust_data, resume=args.resume, lang=args.lang, argv=tuple(sys.argv[1:]))
    planned = sweep.planned(req)
    pool = _pool(args)  # an unreachable scheduler fails here, before anything is written
    try:
        from mnistlab.backend import quiet

        quiet()
        _threads()
        runner = sweep.runner_for(req, planned, pool)
        args.lang = runner.lang  # a resumed sweep speaks its manifest's language
        return _run_and_report(runner.run, runner, runner.run_dir, args.lang, "sweep")
    finally:
        if pool is not None:
            pool.close()


def _unnamed_line(fields: list[str]) -> None:
    """One closing line when the hand-in's title block has its name or group blank."""
    if fields:
        flags = " and ".join(f"--{f}" for f in fields)
        blank = f"{' and '.join(fields)} {'fields are' if len(fields) > 1 else 'field is'} blank"
        print(f"mnistlab: no {flags} given: the title block's {blank}; pass {flags} to fill it", file=sys.stderr)


def _report_after_run(run_dir, lang: str) -> None:
    """Write the run's report; a run is never failed by its report, which says why it is missing."""
    from pathlib import Path

    from mnistlab import report

    if not (Path(run_dir) / "manifest.json").is_file():
        return
    try:
        written = report.build(run_dir, lang)
    except Exception as e:  # noqa: BLE001 - the run's own outcome matters more than its report
        print(printable(f"mnistlab: no report written ({e})"), file=sys.stderr)
        return
    print(printable(f"mnistlab: report: {written.html}"), file=sys.stderr)
    _unnamed_line(written.unnamed)


def cmd_report(args: argparse.Namespace) -> int:
    from mnistlab import report

    written = report.build(args.run_dir, args.lang, author=args.author, group=args.group)
    missing = f"; missing: {', '.join(written.missing)}" if written.missing else ""
    print(printable(f"mnistlab: report written: {written.html} and {written.markdown.name} "
                    f"({written.figures} figures{missing})"), file=sys.stderr)
    _unnamed_line(written.unnamed)
    return 0


def cmd_notebook(args: argparse.Namespace) -> int:
    import signal

    from mnistlab import config, notebook

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it as Ctrl-C does
    w = notebook.make(args.experiments, config.parse_overrides(args.overrides), data_dir=args.data, out=args.out,
                      execute=not args.no_execute, author=args.author, group=args.group, lang=args.lang,
                      extended=args.extended)
    if w.status == "failed":
        raise MnistlabError(f"{w.error}; the notebook up to that cell is in {w.notebook}")
    if w.status == "interrupted":
        print(printable(f"mnistlab: interrupted; the cells done so far are in {w.notebook}"), file=sys.stderr)
        return 130
    done = f"executed in {w.seconds:.0f}s, {w.answered} answers" if w.status == "complete" else "not executed"
    print(printable(f"mnistlab: notebook {done}: {w.notebook} and {w.html.name}"), file=sys.stderr)
    if w.report is not None:
        print(printable(f"mnistlab: report of the same execution: {w.report}"), file=sys.stderr)
    _unnamed_line([f for f, v in (("author", args.author), ("group", args.group)) if not (v and v.strip())])
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from mnistlab import predict

    return predict.run(args.images, model_spec=args.model, top=args.top, as_json=args.json,
                       save_input=args.save_input, dataset=args.dataset, lang=args.lang)


def cmd_serve(args: argparse.Namespace) -> int:
    from mnistlab.web import server

    return server.serve(host=args.host, port=args.port, lang=args.lang)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"run": cmd_run, "list": cmd_list, "predict": cmd_predict, "serve": cmd_serve,
                "report": cmd_report, "notebook": cmd_notebook,
                "sweep": cmd_sweep, "grade": cmd_grade}[args.command](args)
    except MnistlabError as e:
        print(f"mnistlab: error: {printable(str(e))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mnistlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

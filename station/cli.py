"""The `station` command. Every error an operator can cause ends in one line on stderr and exit code 2."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_PASS, EXIT_NOT_PASSED, EXIT_ERROR = 0, 1, 2


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\r{done}/{total}")
        sys.stderr.flush()
        if done == total:
            sys.stderr.write("\n")


def _write_image(path: Path, image) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(path.suffix or ".jpg", image)
    if not ok:
        raise ValueError(f"{path}: cannot write an image with this extension")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.tobytes())
    tmp.replace(path)


def _print_frame(title: str, data: dict) -> None:
    print(f"{title}: {data['overall'].upper()}")
    for check, r in data["checks"].items():
        print(f"  {check:<12}{r['status']:<8}{r['reason_zh']} / {r['reason_en']}")
    framing = data["framing"]
    if not framing["ok"]:
        print(f"  framing     {framing['instruction_zh']} / {framing['instruction_en']}")


def cmd_check(args) -> int:
    from station.config import load_config
    from station.evidence import draw_evidence
    from station.imageio import read_image
    from station.pipeline import Pipeline

    images = [(Path(p), read_image(p)) for p in args.photos]  # all bad inputs are reported before any model loads
    pipeline = Pipeline(load_config(args.config))
    outputs, all_pass = [], True
    for path, image in images:
        frame = pipeline.run(image)
        data = {"image": str(path), **frame.to_dict()}
        all_pass &= data["overall"] == "pass"
        if args.evidence:
            out = Path(args.evidence)
            if len(images) > 1:
                out = out.with_name(f"{out.stem}_{path.stem}{out.suffix or '.jpg'}")
            _write_image(out, draw_evidence(frame))
            data["evidence_image"] = str(out)
        outputs.append(data)
        if not args.json:
            _print_frame(str(path), data)
    if args.json:
        print(json.dumps(outputs if len(outputs) > 1 else outputs[0], ensure_ascii=False, indent=2))
    return EXIT_PASS if all_pass else EXIT_NOT_PASSED


def cmd_eval(args) -> int:
    from calibration.evaluate import evaluate, format_report

    report = evaluate(Path(args.dir), Path(args.config) if args.config else None, _progress)
    print(format_report(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=2))
    return EXIT_PASS


def cmd_bench(args) -> int:
    from station.bench import bench, format_bench
    from station.config import load_config

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 1280x720, got {args.size!r}") from None
    report = bench(load_config(args.config), Path(args.path) if args.path else None, args.frames, width, height,
                   tracking=args.tracking)
    print(json.dumps(report, indent=2) if args.json else format_bench(report))
    return EXIT_PASS


def cmd_enroll(args) -> int:
    from calibration.enrol import enrol_uniform
    from station.config import load_config
    from station.imageio import list_images
    from station.pipeline import Pipeline

    config = load_config(args.config)
    photos = []
    for p in map(Path, args.photos):
        photos += list_images(p) if p.is_dir() else [p]
    prototypes, notes = enrol_uniform(photos, Pipeline(config))
    out = Path(args.out) if args.out else config.resolve(config.uniform.prototypes)
    prototypes.save(out)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"enrolled {len(prototypes.prototypes)} reference photo(s) -> {out} "
          f"(distance limit {prototypes.max_distance:.3f})")
    return EXIT_PASS


def cmd_run(args) -> int:
    """A technician's session without the kiosk: frames from a source, one verdict from all of them. The demo source
    is one session per demo person, judged against the demo uniform unless the station has enrolled its own."""
    from itertools import islice

    from station.config import load_config
    from station.pipeline import Pipeline
    from station.sources import demo_people, open_source, photo_frames, with_demo_uniform

    config = load_config(args.config)
    if args.source == "demo":
        config = with_demo_uniform(config)
    pipeline = Pipeline(config, tracking=args.source == "webcam")
    if args.source == "demo":
        sessions = [(p.stem, photo_frames([p], args.frames)) for p in demo_people()]
    else:
        sessions = [(args.source, islice(open_source(args.source, config.camera.device, config.camera.width,
                                                     config.camera.height, repeat=args.frames), args.frames))]
    results = [_session(pipeline, config, name, frames, args, k) for k, (name, frames) in enumerate(sessions)]
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0], ensure_ascii=False, indent=2))
    return EXIT_PASS if all(r["overall"] == "pass" for r in results) else EXIT_NOT_PASSED


def _session(pipeline, config, name: str, frames, args, number: int) -> dict:
    from station.evidence import draw_evidence
    from station.pipeline import aggregate, overall_status

    per_frame, last = [], None
    for i, image in enumerate(frames):
        last = pipeline.run(image)
        f = last.perception.framing
        if f.still:  # as at the kiosk, a frame blurred by motion is not judged (the first frame always is)
            per_frame.append(last.results)
        guidance = "" if f.ok and f.still else f"  [{f.instruction_zh} / {f.instruction_en}]"
        if not args.json:
            print(f"{name} frame {i + 1}: {last.overall.value}{guidance}  ({last.timings_ms['total']:.0f} ms)")
        if args.evidence_dir:
            _write_image(Path(args.evidence_dir) / f"{number + 1}_frame_{i + 1:04d}.jpg", draw_evidence(last))
    if last is None:
        raise ValueError(f"source {args.source!r} gave no frames")
    v = config.verdict  # a run shorter than the policy's minimum needs every one of its frames to have judged
    verdict = aggregate(per_frame, min(v.min_judged_frames, len(per_frame)), v.fail_weight)
    data = {"source": name, "overall": overall_status(verdict.values()).value, "frames": len(per_frame),
            "checks": {k: r.to_dict() for k, r in verdict.items()}}
    if not args.json:
        print(f"session verdict for {name} over {len(per_frame)} frame(s): {data['overall'].upper()}")
        for check, r in data["checks"].items():
            print(f"  {check:<13}{r['status']:<8}{r['reason_zh']} / {r['reason_en']}")
    return data


def _read_password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    password = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != password:
        raise ValueError("the two passwords differ")
    return password


def cmd_user(args) -> int:
    """Supervisor accounts. Every change to an account ends its logins at once (a disabled user is signed out)."""
    from station.config import load_config
    from station.store import Store

    store = Store.from_config(load_config(args.config))
    if args.action == "list":
        for u in store.users():
            print(f"{u.username}\t{u.role}\t{'disabled' if u.disabled else 'enabled'}\t{u.created_at:%Y-%m-%d}")
        return EXIT_PASS
    if not args.name:
        raise ValueError(f"station user {args.action} needs a user name")
    if args.action == "add":
        store.add_user(args.name, _read_password(args), args.role)
        print(f"user {args.name} ({args.role}) added")
    elif args.action == "set-password":
        store.set_password(args.name, _read_password(args))
        print(f"password of {args.name} changed; their logins are ended")
    elif args.action == "remove":
        store.remove_user(args.name)
        print(f"user {args.name} removed; their logins are ended")
    else:
        store.set_disabled(args.name, args.action == "disable")
        print(f"user {args.name} {args.action}d" + ("; their logins are ended" if args.action == "disable" else ""))
    return EXIT_PASS


def cmd_purge(args) -> int:
    from station.config import load_config
    from station.store import Store

    config = load_config(args.config)
    store = Store.from_config(config)
    n = store.purge_evidence(config.log.retention_days)
    print(f"purged {n} evidence photo(s) older than {config.log.retention_days} days; the records stay")
    return EXIT_PASS


def cmd_learn(args) -> int:
    """`station learn export OUT/`: the reviewed check-ins as a site dataset (station.learn.export_site)."""
    from datetime import datetime, timezone

    from station.config import load_config
    from station.learn import export_site
    from station.store import Store

    config = load_config(args.config)
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise ValueError(f"--since {args.since!r}: give a date as YYYY-MM-DD") from None
        since = since if since.tzinfo else since.replace(tzinfo=timezone.utc)
    store = Store.from_config(config)
    try:
        manifest = export_site(config, store, Path(args.out), since, args.blur_faces)
    finally:
        store.close()
    r = manifest["records"]
    print(f"exported {r['used']} reviewed check-in(s) to {args.out}: {r['train']} train, {r['val']} held out "
          f"(split by technician and day); {manifest['date_range'][0]} .. {manifest['date_range'][1]}")
    for rule, t in manifest["rules"].items():
        print(f"  {rule:<13} pass {t['pass']:>4}  fail {t['fail']:>4}  corrected {t['corrected']:>4}")
    for name, splits in manifest["tiles"].items():
        print(f"  tiles {name:<9} " + "  ".join(f"{split} {counts}" for split, counts in sorted(splits.items())))
    for why, ids in r["skipped"].items():
        print(f"  skipped {len(ids)}: {why}")
    return EXIT_PASS


def cmd_models(args) -> int:
    """`station models list | evaluate BUNDLE | install BUNDLE | rollback`."""
    from station.config import load_config
    from station.learn import compare, evaluation_sets, format_comparison, pinned
    from station.model_versions import Bundle, ModelStore

    config = load_config(args.config)
    store = ModelStore(config.resolve(config.learn.models_dir))
    if args.action == "list":
        active = store.active()
        for v in store.versions():
            evaluation = v.get("evaluation") or {}  # what let it in: its rules' accuracy on each set
            scored = "; ".join(f"{name}: " + ", ".join(f"{r} {m.get('accuracy')}" for r, m in rules.items()
                                                       if r in evaluation["rules"])
                               for name, rules in evaluation.get("candidate", {}).get("scores", {}).items())
            print(f"{'*' if v['id'] == active else ' '} {v['id']:<32} {v.get('installed_at') or '':<26}"
                  f"{', '.join(sorted(v['models'])) or 'shipped models'}  {scored}")
        return EXIT_PASS
    if args.action == "rollback":
        was = store.active()
        print(f"rolled back from {was} to {store.rollback()}; a running station switches within seconds")
        return EXIT_PASS
    if not args.bundle:
        raise ValueError(f"station models {args.action} needs the bundle file")
    bundle = Bundle.open(args.bundle)
    blocked = pinned(config, bundle.models)
    if blocked and args.action == "install":
        raise ValueError(f"the config names its own file for {', '.join(blocked)}: an installed version would not be "
                         "used; remove those keys first")
    sets = evaluation_sets(config, Path(args.site) if args.site else None, [Path(d) for d in args.set or ()])
    if not sets:
        raise ValueError("nothing to measure the candidate on: give --site EXPORT (a `station learn export` folder) "
                         "or --set DIR, or list [learn] eval_sets in the config")
    report = compare(config, bundle, sets, _progress)
    store.note_candidate(bundle, report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(format_comparison(report))
    if args.action == "evaluate":
        return EXIT_PASS
    if report["refused"]:
        print("not installed: the candidate is worse than the installed models (see above)", file=sys.stderr)
        return EXIT_NOT_PASSED
    version = store.install(bundle, report)
    print(f"installed {version}; a running station switches to it within seconds")
    return EXIT_PASS


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # waitress's run() takes it as the signal to close; so does a start not yet finished


def cmd_serve(args) -> int:
    """The whole station: camera loop, check-in session, log, and the web app on a production WSGI server.
    SIGTERM and SIGINT stop it cleanly: the server closes, the live threads end, the log is closed; exit 0."""
    import logging
    import signal

    from station.config import load_config
    from station.identify import BadgeReader, Roster
    from station.live import LiveStation
    from station.sources import with_demo_uniform
    from station.store import Store
    from web.app import create_app, create_server, station_secret

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _interrupt)
    store = live = None
    try:
        config = load_config(args.config)
        if args.source == "demo":
            config = with_demo_uniform(config)
        store = Store.from_config(config)
        recovered = store.recover()
        if any(recovered.values()):
            print(f"cleared after an unclean stop: {recovered}", file=sys.stderr)
        roster = Roster.from_csv(config.resolve(config.identify.roster)) if config.identify.roster else None
        live = LiveStation(config, store, args.source, badge_reader=BadgeReader(config.identify.code, roster)).start()
        app = create_app(store, live, station_secret(config.resolve("var/secret_key")),
                         config_path=Path(args.config).resolve() if args.config else None, roster=roster,
                         tz=config.log.zone())
        server = create_server(app, args.host, args.port)
        print(f"station: http://{args.host}:{args.port}/ (kiosk), /review (supervisors)", flush=True)
        server.run()  # returns once a signal has closed it
    except KeyboardInterrupt:
        pass  # stopped before the server ran
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):  # a second signal must not cut the clean stop short
            signal.signal(sig, signal.SIG_IGN)
        if live is not None:
            live.stop()
        if store is not None:
            store.close()
    print("station: stopped", file=sys.stderr)
    return EXIT_PASS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="station", description="Pre-shift grooming and attire check station "
                                     "(上门服务着装检查站). Exit codes: 0 pass, 1 not passed, 2 error.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check", help="judge photos: verdict per check and overall, with reasons")
    p.add_argument("photos", nargs="+")
    p.add_argument("--json", action="store_true", help="print JSON (zh-CN and English reasons, evidence)")
    p.add_argument("--evidence", metavar="OUT.jpg", help="write the annotated evidence image")
    p.add_argument("--config", help="station config TOML")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("eval", help="score the station on a labelled set (shared/eval/FORMAT.md)")
    p.add_argument("dir")
    p.add_argument("--json", metavar="OUT", help="write the report as JSON")
    p.add_argument("--config", help="station config TOML (the set's dataset.toml is merged on top)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", help="median and p95 ms per stage, and peak memory")
    p.add_argument("path", nargs="?", help="a photo or a folder of photos (default: the demo frames)")
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--size", default="1280x720", help="frame size the photos are placed in")
    p.add_argument("--tracking", action="store_true", help="live-camera mode: pose follows the person across frames")
    p.add_argument("--json", action="store_true")
    p.add_argument("--config")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("enroll-uniform", help="enrol the site uniform from reference photos (files or folders)")
    p.add_argument("photos", nargs="+")
    p.add_argument("--out", help="where to write the enrolment (default: [uniform] prototypes of the config)")
    p.add_argument("--config")
    p.set_defaults(func=cmd_enroll)

    p = sub.add_parser("user", help="supervisor accounts: user add NAME --role supervisor|admin, list, remove NAME, "
                       "set-password NAME, disable NAME, enable NAME")
    p.add_argument("action", choices=["add", "list", "remove", "set-password", "disable", "enable"])
    p.add_argument("name", nargs="?")
    p.add_argument("--role", default="supervisor", choices=["supervisor", "admin"])
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--config")
    p.set_defaults(func=cmd_user)

    p = sub.add_parser("serve", help="run the station: camera, check-in session, log, kiosk and review web app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--source", default="webcam", help="webcam, demo, a photo, a folder or a video")
    p.add_argument("--config")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("purge", help="delete evidence photos older than [log] retention_days; records stay")
    p.add_argument("--config")
    p.set_defaults(func=cmd_purge)

    sub.add_parser("train", help="train the attire detector (needs .[train]); train site EXPORT --out BUNDLE.zip: "
                   "fine-tune the classifiers on a site export", add_help=False)

    p = sub.add_parser("learn", help="learn export OUT/: reviewed check-ins as a site dataset (tiles per rule, "
                       "split by technician and day)")
    p.add_argument("action", choices=["export"])
    p.add_argument("out", help="a new folder")
    p.add_argument("--since", help="only check-ins from this date on (YYYY-MM-DD)")
    p.add_argument("--blur-faces", action="store_true", help="pixelate faces in the exported photos and tiles")
    p.add_argument("--config")
    p.set_defaults(func=cmd_learn)

    p = sub.add_parser("models", help="installed model versions: list, evaluate BUNDLE, install BUNDLE (only if no "
                       "rule gets worse), rollback")
    p.add_argument("action", choices=["list", "evaluate", "install", "rollback"])
    p.add_argument("bundle", nargs="?", help="a bundle from `station train site`")
    p.add_argument("--site", help="a `station learn export` folder: its held-out check-ins are scored")
    p.add_argument("--set", action="append", help="another labelled set to score on (FORMAT.md); repeatable")
    p.add_argument("--json", metavar="OUT", help="write the comparison as JSON")
    p.add_argument("--config")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("run", help="one check-in session from a source: demo, webcam, a photo, folder or video")
    p.add_argument("--source", default="demo")
    p.add_argument("--frames", type=int, default=6, help="frames to judge before the verdict")
    p.add_argument("--evidence-dir", help="write each frame's evidence image here")
    p.add_argument("--json", action="store_true")
    p.add_argument("--config")
    p.set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:  # its own argument parser, and imports that only the train extra has
        try:
            import torch  # noqa: F401  (the train extra: say so now, not after the data is prepared)
            import ultralytics  # noqa: F401
            if argv[1:2] == ["site"]:
                from models.training.site import main as train_main
                argv = argv[1:]
            else:
                from models.training.detector import main as train_main
        except ImportError as exc:
            print(f"station: error: training needs the train extra (pip install '.[train]'): {exc}", file=sys.stderr)
            return EXIT_ERROR
        return train_main(argv[1:])
    args = build_parser().parse_args(argv)
    from calibration.enrol import EnrolmentError
    from calibration.evaluate import EvalError
    from models.detector import ModelFileError
    from station.config import ConfigError
    from station.imageio import ImageError
    from station.sources import SourceError

    try:
        return args.func(args)
    except (ImageError, ConfigError, EvalError, EnrolmentError, SourceError, ModelFileError, ValueError,
            OSError) as exc:
        print(f"station: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("station: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

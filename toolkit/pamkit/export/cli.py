"""CLI verb of the export stage: ``pamkit export``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..network import load_multitask
from ..outputs import check_output_dir
from ..train import model_data
from ..values import FRACTION, NONNEGATIVE, NONNEGATIVE_INT, POSITIVE_INT
from .api import WRITER, ExportOptions, export
from .app_assets import APPS, MAX_SAMPLES, AppAssetsOptions, write_app_assets
from .formats import FORMATS
from .manifest import summary


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``export`` and ``app-assets``."""
    register_app_assets(verbs)
    d = ExportOptions()
    p = verbs.add_parser(
        "export",
        help="write ExecuTorch / Core ML / TFLite artifacts with one entry point per task combination",
        description="Export a multitask model (from `pamkit merge` or `pamkit prune`) to one file per format, each "
        "holding one entry point per task combination with the weights stored once: ExecuTorch .pte "
        "(one method each, XNNPACK), Core ML multifunction .mlpackage (one function each; iOS 18 / "
        "macOS 15) and LiteRT .tflite (one signature each). An entry point computes only its tasks' "
        "groups. Entry names join the tasks' names with '__' in declared order ('a__b'); outputs are "
        "named by task. Every entry point is run on its official runtime on real test images and "
        "compared with PyTorch (Core ML: structure only off macOS); any failure aborts with nothing "
        "written. Writes DIR/manifest.json (what an app reads), the artifacts, DIR/PamkitModel.swift (typed "
        "tasks and entry points for ios_export/) and DIR/export.log.",
        epilog="example: pamkit export runs/demo/pam/pruned/model.json --out runs/demo/export "
        "--formats executorch,tflite --combinations 'a+b,a'",
    )
    p.add_argument("model", help="multitask model .json written by `pamkit merge` or `pamkit prune`")
    p.add_argument(
        "--out",
        required=True,
        help="output directory: new or empty (an earlier export there is replaced only with --overwrite)",
    )
    p.add_argument(
        "--formats",
        default=",".join(d.formats),
        help=f"comma-separated, from {', '.join(FORMATS)} (default: %(default)s). executorch-int8 is a "
        "second .pte quantized with PT2E and the XNNPACK quantizer (static), tflite-int8 a second "
        ".tflite with int8 weights (litert-torch's quantizer, dynamic range); each is written "
        "only if every task's accuracy stays within --int8-tolerance of float32",
    )
    p.add_argument(
        "--combinations",
        default="all",
        help="'all' (every non-empty subset of the tasks) or a list like 'a+b,a' (default: %(default)s)",
    )
    p.add_argument(
        "--coreml-legacy",
        action="store_true",
        help="also write one plain .mlpackage per combination "
        "(iOS 15 / macOS 12, for OS versions without multifunction models)",
    )
    p.add_argument(
        "--parity-samples",
        type=POSITIVE_INT,
        default=d.parity_samples,
        help="test images each entry point is checked on (default: %(default)s)",
    )
    p.add_argument("--atol", type=NONNEGATIVE, default=d.atol, help="parity tolerance, absolute (default: %(default)s)")
    p.add_argument("--rtol", type=NONNEGATIVE, default=d.rtol, help="parity tolerance, relative (default: %(default)s)")
    p.add_argument(
        "--int8-tolerance",
        type=FRACTION,
        default=d.int8_tolerance,
        help="largest accuracy drop int8 may cost any task (default: %(default)s = 1 point)",
    )
    p.add_argument(
        "--jobs",
        type=NONNEGATIVE_INT,
        default=d.jobs,
        help="formats converted at once in worker processes "
        "(default: %(default)s = one per format, up to the number of cores; 1 = in this process)",
    )
    p.add_argument(
        "--fuse-extra-macs",
        type=NONNEGATIVE,
        metavar="FRACTION",
        help="run an entry point's groups as one operator per layer, bottom-up, as long as the zero blocks this "
        "computes add at most FRACTION of its MACs (0.5 is a good start). One convolution over all its groups' "
        "channels runs several times faster than many few-channel ones on small models, but fused layers hold "
        "their own copy of the weights, so the artifact grows (benchmarks/bench/). Default: off, weights "
        "stored once. The manifest records each entry's MACs and fused layers",
    )
    p.add_argument(
        "--swift-type",
        default=d.swift_type,
        metavar="NAME",
        help="name of the typed Swift struct written beside the manifest as NAME.swift, for the iOS package in "
        "ios_export/: the model's tasks as an enum, each combination's entry point, outputs and labels "
        "(default: %(default)s)",
    )
    p.add_argument("--data", metavar="DIR", help="directory holding the dataset files")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace DIR if it holds an earlier export (only once "
        "the new export has passed); a folder holding anything else is never replaced",
    )
    p.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    options = ExportOptions(
        formats=tuple(f.strip() for f in args.formats.split(",") if f.strip()),
        combinations=args.combinations,
        coreml_legacy=args.coreml_legacy,
        parity_samples=args.parity_samples,
        atol=args.atol,
        rtol=args.rtol,
        int8_tolerance=args.int8_tolerance,
        jobs=args.jobs,
        fuse_extra_macs=args.fuse_extra_macs,
        swift_type=args.swift_type,
        overwrite=args.overwrite,
    )
    inputs = [args.model] + ([args.data] if args.data else [])
    check_output_dir(args.out, WRITER, inputs=inputs, overwrite=args.overwrite)  # before any long work
    net, _ = load_multitask(args.model)
    data = model_data(net.structure.input_spec, net.structure.provenance, args.data)
    manifest = export(net, data, Path(args.out), options, model_path=args.model)
    print("\n".join(summary(manifest)))
    print(f"\nwritten to {args.out}/ (manifest.json says which entry point runs which tasks)")
    return 0


def register_app_assets(verbs: argparse._SubParsersAction) -> None:
    """Add ``app-assets``."""
    d = AppAssetsOptions()
    p = verbs.add_parser(
        "app-assets",
        help="fill an app's assets from an export: its artifacts, the manifest and sample images",
        description="Copy what an app needs from a `pamkit export` folder into DIR: the artifacts its runtimes "
        "load (android: the .pte and .tflite files; ios: the Core ML packages, the .pte and the typed Swift file), "
        "manifest.json listing only those, and sample "
        "test images (samples/NN.png at the source size, raw pixel values) with each one's true answer per "
        "task (samples.json). The export's checksums are verified first; DIR is written whole or not at all. "
        "For the Android demo, DIR is android_demo/app/src/main/assets/pamkit (android_demo/README.md); for iOS, "
        "add DIR's files to the app target (ios_export/README.md).",
        epilog="example: pamkit app-assets runs/demo/export --out android_demo/app/src/main/assets/pamkit",
    )
    p.add_argument("export", help="a folder written by `pamkit export`")
    p.add_argument(
        "--out", required=True, help="the assets folder to write: new or empty, or an earlier one with --overwrite"
    )
    p.add_argument(
        "--app",
        choices=sorted(APPS),
        default=d.app,
        help="which app side the assets are for: it decides the artifacts copied (default: %(default)s)",
    )
    p.add_argument(
        "--samples",
        type=NONNEGATIVE_INT,
        default=d.samples,
        help=f"test images to include, 0 to {MAX_SAMPLES} (default: %(default)s; 0: none, no dataset needed)",
    )
    p.add_argument("--data", metavar="DIR", help="directory holding the dataset files (for the samples)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace DIR if `pamkit app-assets` wrote it earlier; a folder holding anything else is never replaced",
    )
    p.set_defaults(run=run_app_assets)


def run_app_assets(args: argparse.Namespace) -> int:
    options = AppAssetsOptions(app=args.app, samples=args.samples, data=args.data, overwrite=args.overwrite)
    manifest = write_app_assets(args.export, args.out, options)
    for item in manifest["files"]:
        print(f"{item['format']:<16}{item['path']:<24}{item['size']:>12,} bytes  {len(item['entries'])} entry points")
    print(f"{options.samples} sample images; written to {args.out}/ (the app reads manifest.json there)")
    return 0

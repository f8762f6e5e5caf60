"""The `symgrad` command: demo, check, generate, cache, derive, compare, coverage."""

import argparse
import os
import sys
from pathlib import Path

from . import models
from .errors import SymgradError
from .version import __version__

BUNDLED_MODELS = ", ".join(models.BUNDLED)


# argument types: every argument is checked while parsing, before any work starts; a bad one is
# argparse's usage error (exit status 2, no traceback)
def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def widths(text):
    try:
        return [positive_int(part.strip()) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers such as 3,8,16, got {text!r}") from None


def _writable(path, what):
    """The nearest existing folder at or above `path` must be a folder we may write in."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"cannot create the {what} {str(path)!r}: {str(existing)!r} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write the {what} {str(path)!r}: no permission to write in {str(existing)!r}")
    return path


def output_folder(text):
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} exists and is not a folder; give a folder (it is created if missing)")
    return _writable(path, "folder")


def output_file(text):
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file name")
    _writable(path.parent, "folder")
    return path


def _cmd_check(args):
    from . import check

    model = models.load(args.model)
    missing = models.uninitialized(model)
    if missing:
        print(f"symgrad: note: model {model.name} has no `init` for {', '.join(map(str, missing))}; "
              "checking at seeded random values", file=sys.stderr)
    report = check(model.loss, model.params, models.example_values(model))
    print(f"model {model.name}: {len(model.params)} parameters")
    print(report)
    return 0 if report.ok else 1


def _cmd_generate(args):
    from .generate import RENDERERS, write_bundled, write_model

    if args.model == "all":
        # without --target, every target: the one command that rebuilds generated/
        for target in [args.target] if args.target else list(RENDERERS):
            for path in write_bundled(args.output, target=target):
                print(path)
    else:
        for path in write_model(args.model, args.output, target=args.target or "numpy"):
            print(path)
    return 0


def _cmd_cache(args):
    from .cache import KernelCache

    store = KernelCache(args.dir)
    if args.action == "clear":
        print(f"removed {store.clear()} entries from {store.directory}")
    else:
        info = store.info()
        print(f"directory {info['directory']}\nentries   {info['entries']}\nbytes     {info['bytes']}")
    return 0


def _cmd_demo(args):
    from .demo import run

    run(args.output, epochs=args.epochs)
    return 0


def _cmd_derive(args):
    from .derivation import derive
    from .generate import write_atomic

    text = derive(models.load(args.model)).render(args.format)
    if args.output:
        print(write_atomic(args.output, text))
    else:
        print(text, end="")
    return 0


def _cmd_compare(args):
    from .comparison import compare
    from .generate import write_atomic

    def progress(done, total, m, seconds):
        print(f"compare {args.model}: width {m.width} measured ({done}/{total}, {seconds:.1f} s)", file=sys.stderr, flush=True)

    print(f"compare {args.model}: measuring widths {','.join(map(str, args.widths))}...", file=sys.stderr, flush=True)
    report = compare(args.model, widths=args.widths, batch=args.batch, repeats=args.repeats, progress=progress)
    print(report)
    out = args.output
    print(write_atomic(out / f"compare_{args.model}.md", report._repr_markdown_()))
    png = out / f"compare_{args.model}.png"
    report.plot().savefig(png, dpi=100)
    print(png)
    return 0


def _cmd_coverage(args):
    from .coverage import report

    text, status = report(checked=args.run)
    print(text, end="")
    return status


def build_parser():
    parser = argparse.ArgumentParser(prog="symgrad", description=__doc__)
    parser.add_argument("--version", action="version", version=f"symgrad {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="derive, check, generate and train the seed 4-3-1 MLP")
    p.add_argument("-o", "--output", default="symgrad-demo", type=output_folder, help="folder for the module and plot")
    p.add_argument("--epochs", type=positive_int, default=2000, help="training epochs (default 2000)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("check", help="symbolic vs autodiff vs finite differences for a model")
    p.add_argument("model", help=f"a bundled model name ({BUNDLED_MODELS}) or a .py file defining `model`")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("generate", help="write the generated kernel module for a model")
    p.add_argument("model", help=f"a bundled model name ({BUNDLED_MODELS}), a .py file, or 'all' for every bundled model")
    p.add_argument("--target", default=None, choices=["numpy", "cuda"],
                   help="numpy (default for one model; 'all' without --target writes every target); cuda writes MODEL.cu and its launcher")
    p.add_argument("-o", "--output", default="generated", type=output_folder, help="folder (files go to OUTPUT/TARGET/)")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("cache", help="show or clear the on-disk kernel cache")
    p.add_argument("action", choices=["info", "clear"])
    p.add_argument("--dir", default=None, help="cache directory (default: $SYMGRAD_CACHE_DIR or ~/.cache/symgrad)")
    p.set_defaults(func=_cmd_cache)

    p = sub.add_parser("derive", help="the gradient derived step by step, beside the generated code")
    p.add_argument("model", help=f"a bundled model name ({BUNDLED_MODELS}) or a .py file defining `model`")
    p.add_argument("--format", default="markdown", choices=["markdown", "latex"])
    p.add_argument("-o", "--output", type=output_file, help="write the document to this file (default: print it)")
    p.set_defaults(func=_cmd_derive)

    p = sub.add_parser("compare", help="symbolic vs autodiff: derivation, op counts, speed, accuracy across widths")
    p.add_argument("model", help="a model family: seed (4-w-1 sigmoid MLP) or perceptron (2-w-2 softmax)")
    p.add_argument("--widths", type=widths, default=[3, 8, 16, 32], help="comma-separated hidden widths (default 3,8,16,32)")
    p.add_argument("--batch", type=positive_int, default=256, help="samples per evaluation batch")
    p.add_argument("--repeats", type=positive_int, default=5, help="timing repeats (the median is reported)")
    p.add_argument("-o", "--output", default="symgrad-compare", type=output_folder, help="folder for the table (.md) and plot (.png)")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("coverage", help="the primitive × path table (README's); --run checks every cell")
    p.add_argument("--run", action="store_true", help="run every path of every record and print what was found")
    p.set_defaults(func=_cmd_coverage)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SymgradError as exc:
        print(f"symgrad: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a folder that became unwritable mid-run, a full disk
        print(f"symgrad: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symgrad: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

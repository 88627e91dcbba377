"""``course-classify``: label images with a model made by ``course-retrain``.

The TensorFlow for Poets ``label_image.py`` idea: give it the output folder of
``course-retrain`` (or its ``model.keras``) and any number of images or folders of images; it
prints the top-k labels with their probabilities for each image. Files that cannot be read
are reported by path and skipped; the exit status is non-zero only when nothing could be
classified.

Examples::

    course-classify --model retrained_model photo.jpg
    course-classify --model retrained_model --top_k 3 holiday_photos/ more/*.jpg
    course-classify --model retrained_model --json photo.jpg > predictions.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from course_utils import data, models
from course_utils.cli.common import HelpFormatter, UserError
from course_utils.cli.outputs import positive_int, terminal_safe
from course_utils.data import show_path

__all__ = ["ClassifyError", "Classifier", "Prediction", "build_parser", "classify", "expand_inputs", "load_classifier", "main"]


class ClassifyError(UserError):
    """A problem the user can fix; printed without a traceback."""


@dataclass
class Prediction:
    """The top labels of one image."""

    path: Path
    top: list[tuple[str, float]]  # (label, probability), most probable first

    def to_dict(self) -> dict[str, Any]:
        return {"path": show_path(self.path), "predictions": [{"label": l, "probability": p} for l, p in self.top]}


@dataclass
class Classifier:
    """A saved ``course-retrain`` model with its labels."""

    model: Any  # keras.Model taking (size, size, 3) images with values 0-255
    labels: list[str]
    image_size: int
    folder: Path
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def random_weights(self) -> bool:
        return bool(self.metrics.get("random_weights"))

    def predict_files(self, paths: Sequence[str | os.PathLike], *, top_k: int = 5, batch_size: int = 32
                      ) -> tuple[list[Prediction], list[tuple[Path, str]]]:
        """Classify ``paths``; returns ``(predictions, failures)`` (failures: ``(path, why)``)."""
        from course_utils import features

        predictions: list[Prediction] = []
        failures: list[tuple[Path, str]] = []
        k = max(1, min(top_k, len(self.labels)))
        batch: list[np.ndarray] = []
        batch_paths: list[Path] = []

        def flush() -> None:
            if not batch:
                return
            probs = np.asarray(self.model.predict_on_batch(np.stack(batch).astype(np.float32)))
            for path, row in zip(batch_paths, probs):
                order = np.argsort(row)[::-1][:k]
                predictions.append(Prediction(path, [(self.labels[i], float(row[i])) for i in order]))
            batch.clear()
            batch_paths.clear()

        for raw in paths:
            path = Path(raw)
            try:
                if not path.is_file():
                    raise OSError("no such file")
                if path.stat().st_size == 0:
                    raise OSError("the file is empty (0 bytes)")
                batch.append(features.read_image(path, self.image_size))
                batch_paths.append(path)
            except Exception as exc:  # noqa: BLE001 - every unreadable file is reported, none stops the run
                failures.append((path, _reason(exc)))
                continue
            if len(batch) >= batch_size:
                flush()
        flush()
        return predictions, failures


def _reason(exc: BaseException) -> str:
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return "not an image (Pillow cannot identify it)"
    text = str(exc).strip() or type(exc).__name__
    return text.split("\n")[0][:200]


def load_classifier(model: str | os.PathLike) -> Classifier:
    """Load ``OUTPUT_DIR/model.keras`` (or a ``.keras`` file) and the ``labels.txt`` beside it."""
    path = Path(model)
    folder = path if path.is_dir() else path.parent
    model_file = path / "model.keras" if path.is_dir() else path
    labels_file = folder / "labels.txt"
    if not model_file.is_file():
        raise ClassifyError(f"no model at {show_path(model_file)}: give the --output_dir of course-retrain "
                            "(it holds model.keras and labels.txt) or a .keras file")
    if not labels_file.is_file():
        raise ClassifyError(f"no labels.txt next to {show_path(model_file)}: it is written by course-retrain with the model")
    try:
        lines = labels_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise ClassifyError(f"cannot read {show_path(labels_file)} ({exc.strerror or exc})") from None
    # labels are printed: escape sequences or control characters in the file must not reach the terminal
    labels = [terminal_safe(line).strip() or f"class {i}" for i, line in enumerate(l for l in lines if l.strip())]
    models.start_tensorflow()  # only now: a wrong --model path is reported at once
    import keras

    try:
        net = keras.models.load_model(model_file, compile=False)
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file
        raise ClassifyError(f"cannot load the model {show_path(model_file)}: {type(exc).__name__}: {str(exc)[:300]}") from exc
    shape = net.input_shape
    if shape[-1] != 3 or shape[1] is None or shape[1] != shape[2]:
        raise ClassifyError(f"{show_path(model_file)} takes inputs of shape {shape}; expected square RGB images")
    if net.output_shape[-1] != len(labels):
        raise ClassifyError(f"{show_path(model_file)} predicts {net.output_shape[-1]} classes but {show_path(labels_file)} names "
                            f"{len(labels)}")
    metrics: dict[str, Any] = {}
    try:
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    return Classifier(net, labels, int(shape[1]), folder, metrics)


def expand_inputs(items: Sequence[str | os.PathLike]) -> list[Path]:
    """Files as given, and the image files inside folders given (recursively, sorted)."""
    out: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*")
                              if p.is_file() and p.suffix.lower() in data.IMAGE_EXTENSIONS
                              and not any(part.startswith(".") for part in p.relative_to(path).parts)))
        else:
            out.append(path)  # a missing or odd file is reported when it is read
    return out


def classify(model: str | os.PathLike, images: Sequence[str | os.PathLike], *, top_k: int = 5
             ) -> tuple[list[Prediction], list[tuple[Path, str]]]:
    """Python entry point: ``classify("retrained_model", ["a.jpg", "folder/"])``."""
    return load_classifier(model).predict_files(expand_inputs(images), top_k=top_k)


class _UsageError(Exception):
    """A bad command line (reported as JSON too when ``--json`` is given)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print and exit; main decides how to report it
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="course-classify",
        description="Print the most likely labels of images, using a model made by course-retrain.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--model", required=True,
                        help="the --output_dir of course-retrain (holds model.keras and labels.txt)")
    parser.add_argument("images", nargs="+", metavar="IMAGE_OR_FOLDER", help="image files and/or folders of images")
    parser.add_argument("--top_k", type=positive_int, default=3, help="how many labels to show per image (1 or more)")
    parser.add_argument("--batch_size", type=positive_int, default=32, help="images per forward pass (1 or more)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document on standard output, also when something fails (then "
                             "with an \"error\" field and a non-zero exit status); paths are written as "
                             "course_utils.data.show_path writes them")
    return parser


def _json_document(error: str | None = None, classifier: Classifier | None = None,
                   predictions: Sequence[Prediction] = (), failures: Sequence[tuple[Path, str]] = ()) -> str:
    doc: dict[str, Any] = {
        "error": error,
        "model": None if classifier is None else show_path(classifier.folder),
        "random_weights": None if classifier is None else classifier.random_weights,
        "results": [p.to_dict() for p in predictions],
        "errors": [{"path": show_path(p), "error": why} for p, why in failures],
    }
    return json.dumps(doc, indent=2)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``course-classify``; returns the exit status (0: something was classified).

    With ``--json`` exactly one JSON document is printed on standard output whatever happens
    (a bad option, a missing or broken model, no readable image, Ctrl-C): ``error`` is null
    on success and says what went wrong otherwise, and the exit status is non-zero.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        if as_json:
            print(_json_document(f"bad command line: {exc}"))
        else:
            parser.print_usage(sys.stderr)
            print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    classifier: Classifier | None = None
    predictions: list[Prediction] = []
    failures: list[tuple[Path, str]] = []

    def fail(message: str, status: int = 1) -> int:
        if as_json:
            print(_json_document(message, classifier, predictions, failures), flush=True)
        print(f"error: {message}", file=sys.stderr, flush=True)
        return status

    try:
        classifier = load_classifier(args.model)
        files = expand_inputs(args.images)
        predictions, failures = classifier.predict_files(files, top_k=args.top_k, batch_size=args.batch_size)
    except ClassifyError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except Exception as exc:  # noqa: BLE001 - with --json the caller still gets a document
        if not as_json:
            raise
        import traceback

        traceback.print_exc()
        return fail(f"{type(exc).__name__}: {str(exc)[:300]}")
    if classifier.random_weights:
        print("WARNING: this model was trained on features of a network with RANDOM weights "
              "(COURSE_ALLOW_RANDOM_WEIGHTS=1): its predictions are meaningless.", file=sys.stderr)
    for path, why in failures:
        print(f"WARNING: cannot classify {show_path(path)}: {why}", file=sys.stderr)
    if not files:
        return fail("no images found in the paths given")
    if not predictions:
        return fail(f"none of the {len(files)} file(s) could be classified")
    if as_json:
        print(_json_document(None, classifier, predictions, failures))
    else:
        for prediction in predictions:
            print(show_path(prediction.path))
            for label, probability in prediction.top:
                print(f"  {label:<24} {probability:.3f}")
        if failures:
            print(f"{len(predictions)} image(s) classified, {len(failures)} could not be read", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

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

__all__ = ["ClassifyError", "Classifier", "Prediction", "build_parser", "classify", "expand_inputs", "load_classifier", "main"]


class ClassifyError(UserError):
    """A problem the user can fix; printed without a traceback."""


@dataclass
class Prediction:
    """The top labels of one image."""

    path: Path
    top: list[tuple[str, float]]  # (label, probability), most probable first

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "predictions": [{"label": l, "probability": p} for l, p in self.top]}


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
        raise ClassifyError(f"no model at {model_file}: give the --output_dir of course-retrain "
                            "(it holds model.keras and labels.txt) or a .keras file")
    if not labels_file.is_file():
        raise ClassifyError(f"no labels.txt next to {model_file}: it is written by course-retrain with the model")
    labels = [line.strip() for line in labels_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    models.start_tensorflow()  # only now: a wrong --model path is reported at once
    import keras

    try:
        net = keras.models.load_model(model_file, compile=False)
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file
        raise ClassifyError(f"cannot load the model {model_file}: {type(exc).__name__}: {str(exc)[:300]}") from exc
    shape = net.input_shape
    if shape[-1] != 3 or shape[1] is None or shape[1] != shape[2]:
        raise ClassifyError(f"{model_file} takes inputs of shape {shape}; expected square RGB images")
    if net.output_shape[-1] != len(labels):
        raise ClassifyError(f"{model_file} predicts {net.output_shape[-1]} classes but {labels_file} names "
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="course-classify",
        description="Print the most likely labels of images, using a model made by course-retrain.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--model", required=True,
                        help="the --output_dir of course-retrain (holds model.keras and labels.txt)")
    parser.add_argument("images", nargs="+", metavar="IMAGE_OR_FOLDER", help="image files and/or folders of images")
    parser.add_argument("--top_k", type=int, default=3, help="how many labels to show per image")
    parser.add_argument("--batch_size", type=int, default=32, help="images per forward pass")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``course-classify``; returns the exit status (0: something was classified)."""
    args = build_parser().parse_args(argv)
    if args.top_k < 1:
        print("error: --top_k must be at least 1", file=sys.stderr)
        return 2
    try:
        classifier = load_classifier(args.model)
    except ClassifyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    files = expand_inputs(args.images)
    predictions, failures = classifier.predict_files(files, top_k=args.top_k, batch_size=max(1, args.batch_size))
    if classifier.random_weights:
        print("WARNING: this model was trained on features of a network with RANDOM weights "
              "(COURSE_ALLOW_RANDOM_WEIGHTS=1): its predictions are meaningless.", file=sys.stderr)
    for path, why in failures:
        print(f"WARNING: cannot classify {path}: {why}", file=sys.stderr)
    if args.json:
        print(json.dumps({"model": str(classifier.folder), "random_weights": classifier.random_weights,
                          "results": [p.to_dict() for p in predictions],
                          "errors": [{"path": str(p), "error": why} for p, why in failures]}, indent=2))
    else:
        for prediction in predictions:
            print(prediction.path)
            for label, probability in prediction.top:
                print(f"  {label:<24} {probability:.3f}")
    if not files:
        print("error: no images found in the paths given", file=sys.stderr)
        return 1
    if not predictions:
        print(f"error: none of the {len(files)} file(s) could be classified", file=sys.stderr)
        return 1
    if failures and not args.json:
        print(f"{len(predictions)} image(s) classified, {len(failures)} could not be read", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

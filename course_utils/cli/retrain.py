"""``course-retrain``: retrain a classifier on your own folders of images.

The TensorFlow for Poets ``retrain.py`` idea with today's Keras: give it a folder with one
sub-folder per class; it checks every file, splits them by a hash of each file's content into
training, validation and test sets, and trains

- ``inception_v3`` (default) or ``mobilenet_v2``: a new softmax layer on the frozen
  ImageNet network's *bottleneck* features, computed once per image and cached on disk
  (a second run extracts nothing), optionally followed by fine-tuning the top blocks
  (``--fine_tune``);
- ``small_cnn``: a small convolutional network trained from scratch (no download at all).

It writes the model (a ``.keras`` file that takes raw images end to end), ``labels.txt``,
``metrics.json``, ``confusion_matrix.png`` and ``skipped_files.txt`` to ``--output_dir``;
``course-classify`` uses them. The user's images are only read: nothing is changed, moved or
deleted.

Examples::

    course-retrain --image_dir flower_photos
    course-retrain --image_dir flower_photos --architecture small_cnn --output_dir cnn_model
    python -m course_utils.cli.retrain --image_dir my_photos --architecture mobilenet_v2 --fine_tune
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from course_utils import config, data, models
from course_utils.cli.common import HelpFormatter, UserError, exit_status, interactive, warn
from course_utils.cli.outputs import StagedOutput, check_output_dir
from course_utils.data import show_path
from course_utils.files import atomic_write

__all__ = [
    "ARCHITECTURE_CHOICES",
    "FAST_DEFAULTS",
    "HEAD_DEFAULTS",
    "HelpFormatter",
    "RetrainError",
    "build_parser",
    "main",
    "retrain",
    "run",
]

ARCHITECTURE_CHOICES = (*models.ARCHITECTURES, "small_cnn")

#: ``--architecture small_cnn`` trains with lesson 05's recipe, ``course_utils.training.SMALL_CNN_RECIPE``
#: (written in the lesson, copied into the package by ``tools/sync_lessons.py``): one home for its numbers.
SMALL_CNN_RECIPE_NAME = "course_utils.training.SMALL_CNN_RECIPE (lesson 05)"

#: Images per batch for extraction and pretrained training.
DEFAULT_BATCH_SIZE = 32

#: Defaults for the softmax head trained on bottlenecks.
HEAD_DEFAULTS: dict[str, Any] = {"epochs": 40, "learning_rate": 1e-3, "dropout": 0.2}

FINE_TUNE_EPOCHS = 2

#: With COURSE_FAST=1 (CI, nbgrader) options left unset get these smaller values instead.
FAST_DEFAULTS: dict[str, Any] = {"small_cnn_epochs": 3, "head_epochs": 10, "fine_tune_epochs": 1,
                                 "max_images_per_class": 20}

OUTPUT_FILES = ("model.keras", "labels.txt", "metrics.json", "confusion_matrix.png", "skipped_files.txt")


class RetrainError(UserError):
    """A problem the user can fix (bad folder, bad option); printed without a traceback."""


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="course-retrain",
        description="Retrain an image classifier on a folder with one sub-folder of images per class.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--image_dir", required=True, help="folder with one sub-folder of images per class")
    parser.add_argument("--architecture", default="inception_v3", choices=ARCHITECTURE_CHOICES,
                        help="pretrained network to retrain, or small_cnn to train from scratch")
    parser.add_argument("--output_dir", default="retrained_model",
                        help="where the model, labels.txt, metrics.json and plots are written")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"training epochs (default: lesson 05's recipe for small_cnn, "
                             f"{HEAD_DEFAULTS['epochs']} for the head on bottlenecks)")
    parser.add_argument("--batch_size", type=int, default=None,
                        help=f"images per training/extraction batch (default: lesson 05's recipe for small_cnn, "
                             f"{DEFAULT_BATCH_SIZE} otherwise)")
    parser.add_argument("--learning_rate", type=float, default=None,
                        help=f"peak learning rate (default: lesson 05's recipe for "
                             f"small_cnn, {HEAD_DEFAULTS['learning_rate']} for the head)")
    parser.add_argument("--validation_percentage", type=float, default=10,
                        help="percent of images (by a hash of each file's content) kept for validation")
    parser.add_argument("--testing_percentage", type=float, default=10,
                        help="percent of images (by a hash of each file's content) kept for the final test")
    parser.add_argument("--image_size", type=int, default=None,
                        help="input size in pixels (default: lesson 05's recipe for "
                             "small_cnn, the network's own size for pretrained ones: 299 Inception V3, "
                             "224 MobileNetV2)")
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                        help="random flips and zooms while training (default: on for small_cnn; for "
                             "pretrained networks used only while fine-tuning, since bottlenecks are cached)")
    parser.add_argument("--fine_tune", action="store_true",
                        help="after the new head converges, unfreeze the network's top blocks and train "
                             "them with a low learning rate (slow on a CPU)")
    parser.add_argument("--fine_tune_epochs", type=int, default=None,
                        help=f"epochs of fine-tuning (default: {FINE_TUNE_EPOCHS})")
    parser.add_argument("--fine_tune_learning_rate", type=float, default=1e-5,
                        help="learning rate while fine-tuning")
    parser.add_argument("--bottleneck_dir", default=None,
                        help="where bottleneck features are cached (default: <course cache>/bottlenecks; "
                             "COURSE_CACHE_DIR moves the course cache)")
    parser.add_argument("--max_images_per_class", type=int, default=None,
                        help="use at most this many images per class in each split, for quick trials "
                             "(default: all; 20 when COURSE_FAST=1)")
    parser.add_argument("--seed", type=int, default=config.SEED, help="random seed")
    parser.add_argument("--quiet", action="store_true", help="no progress bars; warnings and the summary only")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``course-retrain``; returns the exit status (0: success)."""
    args = build_parser().parse_args(argv)

    def body() -> int:
        run(args)
        return 0

    def interrupted() -> str:
        if _stage is not None:
            outcome = _stage.outcome()
        else:
            target = show_path(args.output_dir)
            outcome = (f"{target} was not changed: the previous model there is intact" if Path(args.output_dir).exists()
                       else f"nothing was written to {target}")
        return f"interrupted: {outcome} (bottleneck features already computed stay cached for the next run)"

    return exit_status(body, (data.ImageFolderError, data.DataNotFoundError, models.WeightsUnavailableError),
                       interrupted)


def retrain(image_dir: str | os.PathLike, **options: Any) -> dict[str, Any]:
    """Run ``course-retrain`` from Python: ``retrain("photos", architecture="small_cnn")``.

    Options are the command-line options without dashes. Returns the metrics dict (also
    written to ``metrics.json``). Raises on problems instead of exiting.
    """
    args = build_parser().parse_args(["--image_dir", str(image_dir)])
    for key, value in options.items():
        if not hasattr(args, key):
            raise TypeError(f"unknown option {key!r}")
        setattr(args, key, value)
    return run(args)


# --------------------------------------------------------------------------- helpers


class _Clock:
    """Wall time per stage, and the CPU time this process used (all threads) per stage.

    On a shared machine the wall time grows with other people's work; CPU time divided by
    the number of cores estimates what the stage costs on the machine alone.
    """

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.stages: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._t = self.start
        self._c = time.process_time()

    def lap(self, stage: str) -> float:
        now, cpu = time.perf_counter(), time.process_time()
        self.stages[stage] = round(self.stages.get(stage, 0.0) + now - self._t, 2)
        self.cpu[stage] = round(self.cpu.get(stage, 0.0) + cpu - self._c, 2)
        self._t, self._c = now, cpu
        return self.stages[stage]

    def total(self) -> float:
        return round(time.perf_counter() - self.start, 2)


def _inside(path: Path, folder: Path) -> bool:
    """True when ``path`` is ``folder`` or lies below it (links followed; never raises on a loop)."""
    inner, outer = os.path.realpath(path), os.path.realpath(folder)
    return inner == outer or inner.startswith(outer.rstrip(os.sep) + os.sep)


@dataclass
class _Inputs:
    """What the validation and the split decided."""

    splits: dict[str, data.Split]
    class_names: list[str]
    skipped: list[tuple[Path, str, str]] = field(default_factory=list)  # (path, kind, why)


_IGNORED_KINDS = {"nested-too-deep", "not-in-class-folder", "not-an-image-extension"}


def _check_folder(args: argparse.Namespace, say) -> _Inputs:
    root = Path(args.image_dir)
    report = data.validate_image_folder(root)
    say(f"Checked {show_path(root)}: {len(report.class_counts)} class(es), {sum(report.class_counts.values())} usable images")
    skipped: list[tuple[Path, str, str]] = []
    seen_duplicates: set[Path] = set()
    for issue in report.issues:
        if issue.fatal:
            continue
        if issue.skip:
            warn(f"skipping {show_path(issue.path)}: {issue.message}")
            skipped.append((issue.path, issue.kind, issue.message))
        elif issue.kind == "duplicate":
            warn(f"skipping {show_path(issue.path)}: {issue.message}")
            skipped.append((issue.path, issue.kind, issue.message))
            seen_duplicates.add(issue.path)
        elif issue.kind in _IGNORED_KINDS:
            warn(f"ignoring {show_path(issue.path)}: {issue.message}")
            skipped.append((issue.path, issue.kind, issue.message))
        else:
            say(f"  note: {show_path(issue.path)}: {issue.message}")
    fatal = [i for i in report.issues if i.fatal]
    if fatal:
        lines = [f"{show_path(root)} cannot be used for training:"]
        lines += [f"  {show_path(i.path)}: {i.message}" for i in fatal]
        lines.append("Nothing was trained and no file was changed. Fix the folder and run again.")
        raise RetrainError("\n".join(lines))
    splits = data.split_folder(root, validation_percentage=args.validation_percentage,
                               testing_percentage=args.testing_percentage,
                               per_class=args.max_images_per_class, skip=[s[0] for s in skipped])
    names = splits["train"].class_names
    lost = sorted(set(report.class_counts) - set(names))
    if lost:
        raise RetrainError(f"class folder(s) {_listed(lost)} in {show_path(root)} have no usable image left after "
                           "skipping duplicates; add images or remove the folder(s).")
    counts = splits["train"].counts()
    missing = [name for name, n in counts.items() if n == 0]
    if missing:
        raise RetrainError(
            f"class(es) {_listed(missing)} have no training image: all their images fell into the "
            f"validation/test sets (chosen by a hash of each file's content). Add more images to them "
            f"(about 100 per class is a good start) or lower --validation_percentage/--testing_percentage.")
    if len(splits["test"]) == 0:
        warn("the test set is empty (too few images, or --testing_percentage 0): no test accuracy")
    if len(splits["validation"]) == 0:
        warn("the validation set is empty: the final epoch's model is kept")
    small = [name for name, n in counts.items() if n < 20]
    if small:
        warn(f"few training images in {_listed(small)} (under 20); about 100 per class is a good start")
    return _Inputs(splits, names, skipped)


def _listed(names: Sequence[str], most: int = 8) -> str:
    """Names for a message, at most ``most`` of them (a folder of 200 classes stays readable)."""
    shown = ", ".join(show_path(n) for n in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _write_skipped(path: Path, skipped: list[tuple[Path, str, str]]) -> None:
    lines = ["# Files and folders of --image_dir that were not used for training (nothing was changed).",
             "# path\tproblem\tdetails"]
    lines += [f"{show_path(p)}\t{kind}\t{why}" for p, kind, why in skipped]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _save_confusion_png(path: Path, matrix: list[list[int]], class_names: list[str], title: str) -> None:
    """The test set's confusion matrix as a PNG, drawn by :func:`course_utils.plots.draw_confusion_matrix`."""
    import io

    from course_utils import plots

    fig = plots.draw_confusion_matrix(np.asarray(matrix, dtype=int), class_names, title=title, standalone=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    atomic_write(path, buffer.getvalue())


def _history(history: Any) -> dict[str, list[float]]:
    return {key: [round(float(v), 5) for v in values] for key, values in history.history.items()}


class _EpochTimes:
    """Seconds per epoch, through a ``keras.callbacks.LambdaCallback``."""

    def __init__(self) -> None:
        import keras

        self.seconds: list[float] = []
        self._start = 0.0
        self.callback = keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda epoch, logs: setattr(self, "_start", time.perf_counter()),
            on_epoch_end=lambda epoch, logs: self.seconds.append(round(time.perf_counter() - self._start, 2)))


def _fit(model: Any, x: Any, y: Any, validation: tuple | None, *, epochs: int, args: argparse.Namespace, say,
         batch_size: int | None = None) -> tuple[Any, dict[str, Any]]:
    """``model.fit`` keeping the epoch with the best validation accuracy (when there is a validation set)."""
    from course_utils import training

    times = _EpochTimes()
    callbacks = [times.callback]
    best = training.keep_best_weights(epochs) if validation is not None else None
    if best is not None:
        callbacks.append(best)
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_data=validation, callbacks=callbacks,
                        verbose=0 if args.quiet else (1 if interactive() else 2),
                        shuffle=not hasattr(x, "element_spec"))  # a tf.data pipeline shuffles itself
    best_epoch = None
    if best is not None and best.best_weights is not None:
        best_epoch = best.best_epoch + 1
        say(f"Kept the weights of epoch {best_epoch} (best validation accuracy {best.best:.3f})")
    return history, {"best_epoch": best_epoch, "history": _history(history), "epoch_seconds": times.seconds}


# --------------------------------------------------------------------------- training


def _train_small_cnn(args: argparse.Namespace, inputs: _Inputs, clock: _Clock, say) -> tuple[Any, dict, dict]:
    """Lesson 05's network (:func:`course_utils.training.build_small_cnn`) trained from scratch.

    Images are decoded once (uint8, cached on disk by ``data.load_image_arrays``) and fed from
    memory; augmentation runs inside the model (inactive at inference). AdamW with a warm-up
    then cosine decay and label smoothing, keeping the epoch with the best validation
    accuracy: lesson 05's recipe, ``course_utils.training.SMALL_CNN_RECIPE``.
    """
    import keras

    from course_utils import training

    d = training.SMALL_CNN_RECIPE
    size = args.image_size or d["image_size"]
    epochs = args.epochs if args.epochs is not None else config.pick(d["epochs"], FAST_DEFAULTS["small_cnn_epochs"])
    lr = args.learning_rate if args.learning_rate is not None else d["learning_rate"]
    if args.batch_size is None:
        args.batch_size = d["batch_size"]
    augment = True if args.augment is None else args.augment
    k = len(inputs.class_names)

    say(f"Decoding images at {size} px (cached as uint8 in {config.cache_dir() / 'arrays'})")
    arrays = {key: data.load_image_arrays(split.paths, size) for key, split in inputs.splits.items()}
    labels = {key: split.labels for key, split in inputs.splits.items()}
    one_hot = {key: keras.utils.to_categorical(y, k) for key, y in labels.items()}
    clock.lap("load_images")

    config.set_seeds(args.seed)
    aug = training.augmentation_layers(seed=args.seed, **d["augment"]) if augment else None
    model = training.build_small_cnn(k, size, widths=d["widths"], convs_per_stage=d["convs_per_stage"],
                                     separable=d["separable"], dropout=d["dropout"], augmentation=aug)
    steps_per_epoch = max(1, -(-len(arrays["train"]) // args.batch_size))
    training.compile_small_cnn(model, training.warmup_cosine(lr, epochs, steps_per_epoch),
                               weight_decay=d["weight_decay"], label_smoothing=d["label_smoothing"])
    say(f"Training small_cnn from scratch: {model.count_params():,} weights, {size} px, {epochs} epochs, "
        f"{len(arrays['train'])} training images{', augmented' if augment else ''}")
    has_val = len(arrays["validation"]) > 0
    _, fitted = _fit(model, arrays["train"], one_hot["train"],
                     (arrays["validation"], one_hot["validation"]) if has_val else None,
                     epochs=epochs, args=args, say=say, batch_size=args.batch_size)
    clock.lap("train")
    test = model.predict(arrays["test"], verbose=0) if len(arrays["test"]) else np.zeros((0, k))
    val = model.predict(arrays["validation"], verbose=0) if has_val else np.zeros((0, k))
    clock.lap("evaluate")
    info = {"image_size": size, "epochs": epochs, "learning_rate": lr, "augment": augment, **fitted,
            "parameters": int(model.count_params()),
            "small_cnn": {key: (list(v) if isinstance(v, tuple) else v) for key, v in d.items()},
            "recipe": SMALL_CNN_RECIPE_NAME}
    return model, {"test": test, "validation": val}, info


def _train_pretrained(args: argparse.Namespace, inputs: _Inputs, clock: _Clock, say) -> tuple[Any, dict, dict]:
    """Bottlenecks (cached) -> lesson 06's new head -> optional fine-tuning -> end-to-end model."""
    from course_utils import features, training

    arch = models.ARCHITECTURES[args.architecture]
    size = args.image_size or arch.input_size
    if args.batch_size is None:
        args.batch_size = DEFAULT_BATCH_SIZE
    if size < 75 and args.architecture == "inception_v3":
        raise RetrainError("Inception V3 needs --image_size of at least 75")
    config.set_seeds(args.seed)
    net = models.pretrained_base(args.architecture, input_size=size)
    if net.random_weights:
        warn("RANDOM WEIGHTS: the ImageNet weights are unavailable and COURSE_ALLOW_RANDOM_WEIGHTS=1 is set. "
             "The pipeline runs, but every accuracy this run reports is MEANINGLESS (not transfer learning).")
    clock.lap("load_network")

    keys = ("train", "validation", "test")
    all_paths = [p for key in keys for p in inputs.splits[key].paths]
    result = features.extract_features(all_paths, net, batch_size=args.batch_size,
                                       bottleneck_dir=args.bottleneck_dir, verbose=0 if args.quiet else 1)
    say(f"Bottlenecks: {result.n_extracted} images extracted, {result.n_cached} from the cache "
        f"({result.folder})")
    for path in result.failed:
        warn(f"skipping {path}: could not be decoded while extracting features")
        inputs.skipped.append((path, "unreadable", "could not be decoded while extracting features"))
    clock.lap("bottlenecks")

    feats, labels, paths = {}, {}, {}
    start = 0
    for key in keys:
        n = len(inputs.splits[key])
        rows = slice(start, start + n)
        ok = result.ok[rows]
        feats[key] = result.features[rows][ok]
        labels[key] = inputs.splits[key].labels[ok]
        paths[key] = [p for p, good in zip(inputs.splits[key].paths, ok) if good]
        start += n
    k = len(inputs.class_names)
    dim = feats["train"].shape[1]

    epochs = args.epochs if args.epochs is not None else config.pick(HEAD_DEFAULTS["epochs"],
                                                                      FAST_DEFAULTS["head_epochs"])
    lr = args.learning_rate if args.learning_rate is not None else HEAD_DEFAULTS["learning_rate"]
    config.set_seeds(args.seed)
    head = training.new_head(dim, k, dropout=HEAD_DEFAULTS["dropout"], learning_rate=lr)
    has_val = len(feats["validation"]) > 0
    say(f"Training a new softmax layer on {len(feats['train'])} bottlenecks ({dim} numbers each), {epochs} epochs")
    _, fitted = _fit(head, feats["train"], labels["train"], (feats["validation"], labels["validation"]) if has_val else None,
                     epochs=epochs, args=args, say=say, batch_size=args.batch_size)
    clock.lap("train")

    augment = bool(args.augment) and args.fine_tune
    if args.augment and not args.fine_tune:
        warn("--augment only applies while fine-tuning: the new head is trained on cached bottlenecks")
    model = training.end_to_end(net, head, augmentation=training.augmentation_layers(seed=args.seed) if augment else None)

    info: dict[str, Any] = {
        "image_size": size, "epochs": epochs, "learning_rate": lr, "augment": augment, **fitted,
        "bottlenecks": {"extracted": result.n_extracted, "cached": result.n_cached,
                        "failed": len(result.failed), "folder": str(result.folder),
                        "extract_seconds": round(result.extract_seconds, 2),
                        "images_per_second": None if result.n_extracted == 0 else round(result.images_per_second, 2)},
        "fine_tuned": False,
    }

    def photos(key: str, shuffle: bool):
        return features.image_dataset(paths[key], size, batch_size=args.batch_size, labels=labels[key],
                                      shuffle=shuffle, seed=args.seed)

    if args.fine_tune:
        try:
            training.unfreeze_top(net, model, learning_rate=args.fine_tune_learning_rate)
        except ValueError as exc:
            raise RetrainError(str(exc)) from None
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        say(f"Fine-tuning from layer {arch.fine_tune_from} onwards ({trainable:,} trainable weights), "
            f"{args.fine_tune_epochs} epoch(s) at learning rate {args.fine_tune_learning_rate} "
            "(every image goes through the whole network: slow on a CPU)")
        _, tuned = _fit(model, photos("train", True), None, photos("validation", False) if has_val else None,
                        epochs=args.fine_tune_epochs, args=args, say=say)
        net.model.trainable = False
        info.update(fine_tuned=True, fine_tune_from=arch.fine_tune_from, fine_tune_epochs=args.fine_tune_epochs,
                    fine_tune_learning_rate=args.fine_tune_learning_rate, fine_tune_history=tuned["history"])
        clock.lap("fine_tune")
        test = model.predict(photos("test", False), verbose=0) if paths["test"] else np.zeros((0, k))
        val = model.predict(photos("validation", False), verbose=0) if has_val else np.zeros((0, k))
    else:
        test = head.predict(feats["test"], verbose=0) if len(feats["test"]) else np.zeros((0, k))
        val = head.predict(feats["validation"], verbose=0) if has_val else np.zeros((0, k))
    clock.lap("evaluate")
    info["random_weights"] = net.random_weights
    # Labels of the rows that survived extraction (failures were dropped above).
    info["_labels"] = labels
    return model, {"test": test, "validation": val}, info


# --------------------------------------------------------------------------- the run


#: The output staging of the current run (for a truthful message when it is interrupted).
_stage: StagedOutput | None = None


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Do what ``course-retrain`` does with parsed ``args``; return the metrics dict."""
    global _stage
    _stage = None
    clock = _Clock()
    quiet = args.quiet

    def say(message: str) -> None:
        if not quiet:
            print(message, flush=True)

    image_dir = Path(args.image_dir)
    output_dir = Path(args.output_dir)
    if not image_dir.is_dir():
        raise RetrainError(f"--image_dir {show_path(image_dir)} is not a folder; give the folder that holds one "
                           "sub-folder of images per class")
    for option, value in (("--output_dir", output_dir), ("--bottleneck_dir", args.bottleneck_dir)):
        if value is not None and _inside(Path(value), image_dir):
            raise RetrainError(f"{option} {show_path(value)} is inside --image_dir {show_path(image_dir)}; choose a "
                               "folder elsewhere (the image folder is only read, never written)")
    data.check_cache_dir(image_dir)  # before anything creates the cache folder
    if config.fast_mode():
        changed = []
        if args.max_images_per_class is None:
            args.max_images_per_class = FAST_DEFAULTS["max_images_per_class"]
            changed.append(f"at most {args.max_images_per_class} images per class")
        if args.epochs is None:
            changed.append("fewer epochs")
        if changed:
            say(f"COURSE_FAST=1: {' and '.join(changed)} (set the options to override)")
    if args.fine_tune_epochs is None:
        args.fine_tune_epochs = config.pick(FINE_TUNE_EPOCHS, FAST_DEFAULTS["fine_tune_epochs"])
    for option in ("epochs", "batch_size", "image_size", "fine_tune_epochs", "max_images_per_class"):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise RetrainError(f"--{option} must be at least 1 (got {value})")
    if not (0 <= args.validation_percentage < 100 and 0 <= args.testing_percentage < 100
            and args.validation_percentage + args.testing_percentage < 100):
        raise RetrainError("--validation_percentage and --testing_percentage must be 0-99 and leave "
                           "images for training")
    # before any work: a wrong --output_dir (a file, unwritable, a full disk) fails now, not after training
    output_dir = check_output_dir(output_dir, OUTPUT_FILES, say=say)

    inputs = _check_folder(args, say)
    say("Images per split (by a hash of each file's content): "
        + ", ".join(f"{key} {len(split)}" for key, split in inputs.splits.items()))
    clock.lap("validate")

    tf = models.start_tensorflow()  # here, so that the checks above stay instant
    import keras

    from course_utils import training

    number_format = models.number_format()  # bfloat16 only with COURSE_BF16=1 on a processor that has it
    if number_format != "float32":
        say(f"Computing in {number_format} ({config.bfloat16_support()[1]})")
    clock.lap("start_tensorflow")

    config.set_seeds(args.seed)
    if args.architecture == "small_cnn":
        if args.fine_tune:
            warn("--fine_tune applies to pretrained networks only; small_cnn is trained from scratch")
        model, probabilities, info = _train_small_cnn(args, inputs, clock, say)
        info["random_weights"] = False
        labels = {key: split.labels for key, split in inputs.splits.items()}
    else:
        model, probabilities, info = _train_pretrained(args, inputs, clock, say)
        labels = info.pop("_labels")

    # Images per class actually used in each split (after any file failed to decode).
    counts = {key: {name: int(np.sum(labels[key] == i)) for i, name in enumerate(inputs.class_names)}
              for key in ("train", "validation", "test")}
    test = training.evaluate_predictions(labels["test"], probabilities["test"], inputs.class_names)
    val = training.evaluate_predictions(labels["validation"], probabilities["validation"], inputs.class_names)

    # Everything goes into a temporary folder beside --output_dir, swapped in when all is written:
    # a failure or Ctrl-C leaves a previous model folder as it was (and the message says so).
    stage = _stage = StagedOutput(output_dir)
    shown_names = [show_path(name) for name in inputs.class_names]  # any folder name, printable
    try:
        with stage:
            metrics = _write_outputs(stage.path, model, args, inputs, info, test, val, counts, shown_names,
                                     image_dir, clock, tf, keras)
            stage.commit()
    except OSError as exc:
        why = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise RetrainError(f"could not write the results ({why}): {stage.outcome()}. Free some space or "
                           "choose another --output_dir, then run again (cached features are reused)") from None
    _print_summary(metrics, output_dir, inputs)
    return metrics


def _write_outputs(staged: Path, model: Any, args: argparse.Namespace, inputs: _Inputs, info: dict[str, Any],
                   test: dict[str, Any], val: dict[str, Any], counts: dict[str, Any], shown_names: list[str],
                   image_dir: Path, clock: _Clock, tf: Any, keras: Any) -> dict[str, Any]:
    """Write every output file into ``staged`` (the temporary folder); return the metrics."""
    model.save(staged / "model.keras")
    (staged / "labels.txt").write_text("\n".join(shown_names) + "\n", encoding="utf-8")
    _write_skipped(staged / "skipped_files.txt", inputs.skipped)
    random_weights = bool(info.get("random_weights"))
    title = f"{args.architecture}: test set ({test['n_images']} images"
    title += ")" if test["accuracy"] is None else f", accuracy {test['accuracy']:.1%})"
    if random_weights:
        title += "\nRANDOM WEIGHTS: meaningless"
    _save_confusion_png(staged / "confusion_matrix.png", test["confusion_matrix"], shown_names, title)
    clock.lap("save")

    metrics: dict[str, Any] = {
        "architecture": args.architecture,
        "random_weights": random_weights,
        "number_format": keras.mixed_precision.global_policy().name,
        "accuracy_is_meaningful": not random_weights,
        "test_accuracy": test["accuracy"],
        "validation_accuracy": val["accuracy"],
        "test": test,
        "class_names": shown_names,
        "counts": {key: {"total": int(sum(c.values())), "per_class": c} for key, c in counts.items()},
        "skipped_files": len(inputs.skipped),
        "times_seconds": {**clock.stages, "total": clock.total()},
        "cpu_seconds": {**clock.cpu, "total": round(sum(clock.cpu.values()), 2)},
        "machine": {"cpus": config.detect_environment().cpus,
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None},
        "image_dir": show_path(image_dir.resolve()),
        "settings": {key: value for key, value in vars(args).items()},
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **info,
    }
    metrics["times_seconds"]["total"] = clock.total()
    (staged / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n", encoding="utf-8")
    return metrics


def _print_summary(metrics: dict[str, Any], output_dir: Path, inputs: _Inputs) -> None:
    line = "=" * 72
    out = [line, f"course-retrain: {metrics['architecture']} on {len(inputs.class_names)} classes "
                 f"({_listed(inputs.class_names, 12)})"]
    counts = metrics["counts"]
    out.append(f"  images: train {counts['train']['total']}, validation {counts['validation']['total']}, "
               f"test {counts['test']['total']}; skipped {metrics['skipped_files']} (see skipped_files.txt)")
    acc = metrics["test_accuracy"]
    if acc is None:
        out.append("  test accuracy: not measured (empty test set)")
    else:
        out.append(f"  test accuracy: {acc:.1%} on {metrics['test']['n_images']} held-out images"
                   + ("   <-- MEANINGLESS: RANDOM WEIGHTS" if metrics["random_weights"] else ""))
        per_class = list(metrics["test"]["per_class"].items())
        if len(per_class) > 30:  # many classes: the summary stays short, metrics.json has them all
            out.append(f"    (the first 30 of {len(per_class)} classes; metrics.json has every one)")
        for name, row in per_class[:30]:
            out.append(f"    {show_path(name):<20} precision {row['precision']:.2f}  recall {row['recall']:.2f}  "
                       f"F1 {row['f1']:.2f}  ({row['support']} images)")
    if "bottlenecks" in metrics:
        b = metrics["bottlenecks"]
        out.append(f"  bottlenecks: {b['extracted']} extracted, {b['cached']} reused from the cache")
    times = metrics["times_seconds"]
    out.append("  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items() if k != "total")
               + f"; total {times['total']:.1f} s")
    out.append(f"  written to {show_path(output_dir)}: " + ", ".join(OUTPUT_FILES))
    out.append(f"  try it:  course-classify --model {show_path(output_dir)} some_photo.jpg")
    if metrics["random_weights"]:
        out.append("  !! The network had RANDOM weights (COURSE_ALLOW_RANDOM_WEIGHTS=1, ImageNet weights")
        out.append("  !! unavailable). The accuracy above is MEANINGLESS: it is not a transfer-learning result.")
    out.append(line)
    print("\n".join(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())

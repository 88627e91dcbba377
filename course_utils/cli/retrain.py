"""``course-retrain``: retrain a classifier on your own folders of images.

The TensorFlow for Poets ``retrain.py`` idea with today's Keras: give it a folder with one
sub-folder per class; it checks every file, splits them by a hash of the file name into
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

__all__ = [
    "ARCHITECTURE_CHOICES",
    "FAST_DEFAULTS",
    "HEAD_DEFAULTS",
    "HelpFormatter",
    "SMALL_CNN_DEFAULTS",
    "RetrainError",
    "build_parser",
    "main",
    "retrain",
    "run",
]

ARCHITECTURE_CHOICES = (*models.ARCHITECTURES, "small_cnn")

#: Defaults for ``--architecture small_cnn``, chosen by measurement on the 2,400 flower
#: photos (``../shared/data``) on a 2-core CPU: plain 3x3 convolutions with one in the first
#: stage and two in the others (1.18 M weights, about 10 s per epoch over 1,938 training
#: photos at 96 px), flips + rotation + zoom and dropout 0.4 against overfitting, 40 epochs:
#: 81.6 % on the 234 test photos after 8 to 9 minutes of training (478 s and 535 s in two
#: runs; 20 epochs with flip + zoom only: 77.8 % in 3.4 minutes). See the docstring of
#: :func:`_train_small_cnn`.
SMALL_CNN_DEFAULTS: dict[str, Any] = {
    "image_size": 96,
    "epochs": 40,
    "learning_rate": 3e-3,
    "weight_decay": 0.02,
    "label_smoothing": 0.1,
    "widths": (32, 64, 128, 256),
    "convs_per_stage": (1, 2, 2, 2),
    "separable": False,
    "dropout": 0.4,
    "augment": {"flip": True, "zoom": 0.2, "rotation": 0.1},
}

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
                        help=f"training epochs (default: {SMALL_CNN_DEFAULTS['epochs']} for small_cnn, "
                             f"{HEAD_DEFAULTS['epochs']} for the head on bottlenecks)")
    parser.add_argument("--batch_size", type=int, default=32, help="images per training/extraction batch")
    parser.add_argument("--learning_rate", type=float, default=None,
                        help=f"peak learning rate (default: {SMALL_CNN_DEFAULTS['learning_rate']} for "
                             f"small_cnn, {HEAD_DEFAULTS['learning_rate']} for the head)")
    parser.add_argument("--validation_percentage", type=float, default=10,
                        help="percent of images (by file-name hash) kept for validation")
    parser.add_argument("--testing_percentage", type=float, default=10,
                        help="percent of images (by file-name hash) kept for the final test")
    parser.add_argument("--image_size", type=int, default=None,
                        help=f"input size in pixels (default: {SMALL_CNN_DEFAULTS['image_size']} for "
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
        raise RetrainError(f"class folder(s) {', '.join(map(show_path, lost))} in {show_path(root)} have no usable image left after "
                           "skipping duplicates; add images or remove the folder(s).")
    counts = splits["train"].counts()
    missing = [name for name, n in counts.items() if n == 0]
    if missing:
        raise RetrainError(
            f"class(es) {', '.join(map(show_path, missing))} have no training image: all their images fell into the "
            f"validation/test sets (chosen by a hash of the file name). Add more images to them "
            f"(about 100 per class is a good start) or lower --validation_percentage/--testing_percentage.")
    if len(splits["test"]) == 0:
        warn("the test set is empty (too few images, or --testing_percentage 0): no test accuracy")
    if len(splits["validation"]) == 0:
        warn("the validation set is empty: the final epoch's model is kept")
    small = [name for name, n in counts.items() if n < 20]
    if small:
        warn(f"few training images in {', '.join(map(show_path, small))} (under 20); about 100 per class is a good start")
    return _Inputs(splits, names, skipped)


def _write_skipped(path: Path, skipped: list[tuple[Path, str, str]]) -> None:
    lines = ["# Files and folders of --image_dir that were not used for training (nothing was changed).",
             "# path\tproblem\tdetails"]
    lines += [f"{show_path(p)}\t{kind}\t{why}" for p, kind, why in skipped]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _confusion_png(path: Path, matrix: np.ndarray, class_names: list[str], title: str) -> None:
    """Draw the confusion matrix with matplotlib's Agg canvas (no pyplot, no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k = len(class_names)
    fig = Figure(figsize=(1.0 * k + 2.8, 1.0 * k + 2.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.imshow(matrix, cmap="cividis")
    top = matrix.max() if matrix.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center",
                    color="black" if matrix[i, j] > top / 2 else "white")
    ax.set_xticks(range(k), class_names, rotation=30, ha="right")
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _evaluate(y_true: np.ndarray, probabilities: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

    k = len(class_names)
    if len(y_true) == 0:
        return {"accuracy": None, "n_images": 0, "per_class": {}, "confusion_matrix": np.zeros((k, k), int).tolist()}
    y_pred = probabilities.argmax(axis=1)
    report = classification_report(y_true, y_pred, labels=list(range(k)), target_names=class_names,
                                   output_dict=True, zero_division=0)
    per_class = {name: {"precision": report[name]["precision"], "recall": report[name]["recall"],
                        "f1": report[name]["f1-score"], "support": int(report[name]["support"])}
                 for name in class_names}
    averages = {key.replace(" avg", ""): {"precision": report[key]["precision"], "recall": report[key]["recall"],
                                          "f1": report[key]["f1-score"]}
                for key in ("macro avg", "weighted avg")}
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "n_images": int(len(y_true)),
        "per_class": per_class,
        "averages": averages,
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=list(range(k))).tolist(),
    }


class _BestWeights:
    """A Keras callback that keeps the weights of the epoch with the best validation accuracy
    (ties: lower validation loss), puts them back when training ends, and times each epoch."""

    def __new__(cls, *args, **kwargs):  # built lazily so importing this module stays TF-free
        import keras

        class BestWeights(keras.callbacks.Callback):
            def __init__(self, say):
                super().__init__()
                self.say = say
                self.best = (-1.0, float("inf"))
                self.best_epoch: int | None = None
                self.weights = None
                self.epoch_seconds: list[float] = []
                self._t = 0.0

            def on_epoch_begin(self, epoch, logs=None):
                self._t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.epoch_seconds.append(round(time.perf_counter() - self._t, 2))
                logs = logs or {}
                if "val_accuracy" not in logs:
                    return
                score = (float(logs["val_accuracy"]), float(logs.get("val_loss", 0.0)))
                if score[0] > self.best[0] or (score[0] == self.best[0] and score[1] < self.best[1]):
                    self.best, self.best_epoch = score, epoch
                    self.weights = self.model.get_weights()

            def on_train_end(self, logs=None):
                if self.weights is not None:
                    self.model.set_weights(self.weights)
                    self.say(f"Kept the weights of epoch {self.best_epoch + 1} "
                             f"(best validation accuracy {self.best[0]:.3f})")

        return BestWeights(*args, **kwargs)


def _history(history: Any) -> dict[str, list[float]]:
    return {key: [round(float(v), 5) for v in values] for key, values in history.history.items()}


# --------------------------------------------------------------------------- training


def _fit_verbose(args: argparse.Namespace) -> int:
    return 0 if args.quiet else (1 if interactive() else 2)


def _train_small_cnn(args: argparse.Namespace, inputs: _Inputs, clock: _Clock, say) -> tuple[Any, dict, dict]:
    """Train :func:`course_utils.models.build_small_cnn` from scratch on decoded images.

    Images are decoded once (uint8, cached on disk by ``data.load_image_arrays``) and fed
    from memory; augmentation runs inside the model (inactive at inference). AdamW with a
    warm-up then cosine decay, label smoothing 0.1, and the epoch with the best validation
    accuracy is kept. See :data:`SMALL_CNN_DEFAULTS`.
    """
    import keras
    import tensorflow as tf

    from course_utils import models

    d = SMALL_CNN_DEFAULTS
    size = args.image_size or d["image_size"]
    epochs = args.epochs if args.epochs is not None else config.pick(d["epochs"], FAST_DEFAULTS["small_cnn_epochs"])
    lr = args.learning_rate if args.learning_rate is not None else d["learning_rate"]
    augment = True if args.augment is None else args.augment
    k = len(inputs.class_names)

    say(f"Decoding images at {size} px (cached as uint8 in {config.cache_dir() / 'arrays'})")
    arrays = {key: data.load_image_arrays(split.paths, size) for key, split in inputs.splits.items()}
    labels = {key: split.labels for key, split in inputs.splits.items()}
    clock.lap("load_images")

    def pipeline(key: str, shuffle: bool):
        x, y = arrays[key], labels[key]
        ds = tf.data.Dataset.from_tensor_slices((x, tf.one_hot(y, k)))
        if shuffle:
            ds = ds.shuffle(len(x), seed=args.seed, reshuffle_each_iteration=True)
        ds = ds.batch(args.batch_size).map(lambda a, b: (tf.cast(a, tf.float32), b))
        return ds.prefetch(tf.data.AUTOTUNE)

    config.set_seeds(args.seed)
    aug = models.augmentation_layers(seed=args.seed, **d["augment"]) if augment else None
    model = models.build_small_cnn(k, size, widths=d["widths"], convs_per_stage=d["convs_per_stage"],
                                   separable=d["separable"], dropout=d["dropout"], augmentation=aug)
    steps = max(1, -(-len(arrays["train"]) // args.batch_size)) * max(1, epochs)
    warmup = min(steps // 10, 3 * -(-len(arrays["train"]) // args.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(lr / 10, max(1, steps - warmup), alpha=0.01,
                                                      warmup_target=lr, warmup_steps=warmup)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=d["weight_decay"]),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=d["label_smoothing"]),
                  metrics=["accuracy"])
    say(f"Training small_cnn from scratch: {model.count_params():,} weights, {size} px, {epochs} epochs, "
        f"{len(arrays['train'])} training images{', augmented' if augment else ''}")
    has_val = len(arrays["validation"]) > 0
    best = _BestWeights(say)
    history = model.fit(pipeline("train", True), validation_data=pipeline("validation", False) if has_val else None,
                        epochs=epochs, verbose=_fit_verbose(args), callbacks=[best],
                        shuffle=False)  # the dataset shuffles itself
    clock.lap("train")
    test = model.predict(pipeline("test", False), verbose=0) if len(arrays["test"]) else np.zeros((0, k))
    val = model.predict(pipeline("validation", False), verbose=0) if has_val else np.zeros((0, k))
    clock.lap("evaluate")
    info = {"image_size": size, "epochs": epochs, "learning_rate": lr, "augment": augment,
            "best_epoch": None if best.best_epoch is None else best.best_epoch + 1,
            "history": _history(history), "epoch_seconds": best.epoch_seconds,
            "parameters": int(model.count_params()),
            "small_cnn": {key: (list(v) if isinstance(v, tuple) else v) for key, v in d.items()}}
    return model, {"test": test, "validation": val}, info


def _train_pretrained(args: argparse.Namespace, inputs: _Inputs, clock: _Clock, say) -> tuple[Any, dict, dict]:
    """Bottlenecks (cached) -> new softmax head -> optional fine-tuning -> end-to-end model."""
    import keras
    import tensorflow as tf

    from course_utils import features, models

    arch = models.ARCHITECTURES[args.architecture]
    size = args.image_size or arch.input_size
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
    head_in = keras.Input((dim,), name="bottleneck")
    x = keras.layers.Dropout(HEAD_DEFAULTS["dropout"], name="head_dropout")(head_in)
    head_out = keras.layers.Dense(k, activation="softmax", name="predictions")(x)
    head = keras.Model(head_in, head_out, name="new_head")
    head.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    has_val = len(feats["validation"]) > 0
    say(f"Training a new softmax layer on {len(feats['train'])} bottlenecks ({dim} numbers each), {epochs} epochs")
    best = _BestWeights(say)
    history = head.fit(feats["train"], labels["train"], batch_size=args.batch_size, epochs=epochs,
                       validation_data=(feats["validation"], labels["validation"]) if has_val else None,
                       callbacks=[best], verbose=_fit_verbose(args), shuffle=True)
    clock.lap("train")

    augment = bool(args.augment) and args.fine_tune
    if args.augment and not args.fine_tune:
        warn("--augment only applies while fine-tuning: the new head is trained on cached bottlenecks")
    inputs_img = keras.Input((size, size, 3), name="image")
    x = inputs_img
    if augment:
        x = models.augmentation_layers(seed=args.seed)(x)
    x = models.preprocessing_layer(args.architecture)(x)
    x = net.model(x, training=False)  # BatchNorm stays in inference mode, also when fine-tuning
    model = keras.Model(inputs_img, head(x), name=f"{args.architecture}_retrained")

    info: dict[str, Any] = {
        "image_size": size, "epochs": epochs, "learning_rate": lr, "augment": augment,
        "best_epoch": None if best.best_epoch is None else best.best_epoch + 1, "history": _history(history),
        "epoch_seconds": best.epoch_seconds,
        "bottlenecks": {"extracted": result.n_extracted, "cached": result.n_cached,
                        "failed": len(result.failed), "folder": str(result.folder),
                        "extract_seconds": round(result.extract_seconds, 2),
                        "images_per_second": None if result.n_extracted == 0 else round(result.images_per_second, 2)},
        "fine_tuned": False,
    }

    def image_batches(key: str, shuffle: bool):
        ds = tf.data.Dataset.from_tensor_slices(([os.fsencode(p) for p in paths[key]], labels[key]))
        if shuffle:
            ds = ds.shuffle(len(paths[key]), seed=args.seed, reshuffle_each_iteration=True)

        def load(path):
            image = tf.numpy_function(lambda p: features.read_image(os.fsdecode(p), size), [path], tf.uint8)
            image.set_shape((size, size, 3))
            return tf.cast(image, tf.float32)

        ds = ds.map(lambda p, y: (load(p), y), num_parallel_calls=2)
        return ds.batch(args.batch_size).prefetch(2)

    if args.fine_tune:
        names = [layer.name for layer in net.model.layers]
        if arch.fine_tune_from not in names:
            raise RetrainError(f"layer {arch.fine_tune_from!r} not found in {args.architecture}")
        first = names.index(arch.fine_tune_from)
        net.model.trainable = True
        for i, layer in enumerate(net.model.layers):
            layer.trainable = i >= first and not isinstance(layer, keras.layers.BatchNormalization)
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        model.compile(optimizer=keras.optimizers.Adam(args.fine_tune_learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        say(f"Fine-tuning from layer {arch.fine_tune_from} onwards ({trainable:,} trainable weights), "
            f"{args.fine_tune_epochs} epoch(s) at learning rate {args.fine_tune_learning_rate} "
            "(every image goes through the whole network: slow on a CPU)")
        best_ft = _BestWeights(say)
        ft_history = model.fit(image_batches("train", True), epochs=args.fine_tune_epochs,
                               validation_data=image_batches("validation", False) if has_val else None,
                               callbacks=[best_ft], verbose=_fit_verbose(args),
                               shuffle=False)
        net.model.trainable = False
        info.update(fine_tuned=True, fine_tune_from=arch.fine_tune_from, fine_tune_epochs=args.fine_tune_epochs,
                    fine_tune_learning_rate=args.fine_tune_learning_rate, fine_tune_history=_history(ft_history))
        clock.lap("fine_tune")
        test = model.predict(image_batches("test", False), verbose=0) if paths["test"] else np.zeros((0, k))
        val = model.predict(image_batches("validation", False), verbose=0) if has_val else np.zeros((0, k))
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
    say("Images per split (by file-name hash): "
        + ", ".join(f"{key} {len(split)}" for key, split in inputs.splits.items()))
    clock.lap("validate")

    tf = models.start_tensorflow()  # here, so that the checks above stay instant
    import keras

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
    test = _evaluate(labels["test"], probabilities["test"], inputs.class_names)
    val = _evaluate(labels["validation"], probabilities["validation"], inputs.class_names)

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
    _confusion_png(staged / "confusion_matrix.png", np.asarray(test["confusion_matrix"]), shown_names,
                   title)
    clock.lap("save")

    metrics: dict[str, Any] = {
        "architecture": args.architecture,
        "random_weights": random_weights,
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
                 f"({', '.join(map(show_path, inputs.class_names))})"]
    counts = metrics["counts"]
    out.append(f"  images: train {counts['train']['total']}, validation {counts['validation']['total']}, "
               f"test {counts['test']['total']}; skipped {metrics['skipped_files']} (see skipped_files.txt)")
    acc = metrics["test_accuracy"]
    if acc is None:
        out.append("  test accuracy: not measured (empty test set)")
    else:
        out.append(f"  test accuracy: {acc:.1%} on {metrics['test']['n_images']} held-out images"
                   + ("   <-- MEANINGLESS: RANDOM WEIGHTS" if metrics["random_weights"] else ""))
        for name, row in metrics["test"]["per_class"].items():
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

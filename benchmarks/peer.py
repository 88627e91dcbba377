"""The peer row: the tensorflow/docs "Image classification" tutorial's model on the course's split.

The tutorial (https://www.tensorflow.org/tutorials/images/classification) trains a small
Sequential CNN on the same five flower classes. Its final model, re-written here from its
description (nothing copied): random flips, rotations up to 0.1 of a turn and zooms up to
10 %; pixels scaled by 1/255; three blocks of a 3x3 ReLU convolution ('same' padding, 16, 32
and 64 filters) each followed by a 2x2 max-pool; dropout 0.2; flatten; a 128-unit ReLU layer;
5 logits. Adam with its defaults, sparse cross-entropy on logits, batch 32, 180 x 180 pixels,
15 epochs, no learning-rate schedule and no best-epoch restore.

Here it is trained on the course's training photos (the content-hash split, not the tutorial's
own 80/20 split), watched on the validation photos, and tested once on the test photos, the
same photos ``course-retrain --architecture small_cnn`` is tested on in the same benchmark
run (:func:`run_small_cnn`). Run as a script it trains one model and prints one JSON line::

    python benchmarks/peer.py tutorial --seed 42
    python benchmarks/peer.py small_cnn --seed 42
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TUTORIAL = {"image_size": 180, "epochs": 15, "batch_size": 32, "filters": (16, 32, 64), "dense": 128,
            "dropout": 0.2, "flip": "horizontal", "rotation": 0.1, "zoom": 0.1}


def build_tutorial_model(num_classes: int, settings: dict = TUTORIAL, seed: int = 0):
    """The tutorial's augmented, dropout model (see the module docstring), compiled."""
    import keras
    from keras import layers

    size = settings["image_size"]
    stack = [keras.Input(shape=(size, size, 3)),
             layers.RandomFlip(settings["flip"], seed=seed),
             layers.RandomRotation(settings["rotation"], seed=seed + 1),
             layers.RandomZoom(settings["zoom"], seed=seed + 2),
             layers.Rescaling(1.0 / 255)]
    for filters in settings["filters"]:
        stack += [layers.Conv2D(filters, 3, padding="same", activation="relu"), layers.MaxPooling2D()]
    stack += [layers.Dropout(settings["dropout"]), layers.Flatten(), layers.Dense(settings["dense"], activation="relu"),
              layers.Dense(num_classes)]
    model = keras.Sequential(stack, name="tf_docs_tutorial")
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def run_tutorial(seed: int, settings: dict = TUTORIAL) -> dict:
    """Train and test the tutorial's model on the course split; seconds count ``fit`` only."""
    import numpy as np

    from course_utils import config, data, models

    models.start_tensorflow()
    flowers = data.load_flower_arrays(settings["image_size"], per_class=None)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (flowers[k] for k in ("train", "validation", "test"))
    config.set_seeds(seed)
    model = build_tutorial_model(len(flowers["class_names"]), settings, seed)
    start = time.perf_counter()
    model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=settings["epochs"],
              batch_size=settings["batch_size"], verbose=0)
    seconds = time.perf_counter() - start
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    return {"model": "tutorial", "seed": seed, "test_accuracy": float(np.mean(predicted == y_test)),
            "n_test": int(len(y_test)), "n_train": int(len(y_train)), "train_seconds": round(seconds, 1),
            "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}}


def run_small_cnn(seed: int) -> dict:
    """``course-retrain --architecture small_cnn`` with its defaults (lesson 05's recipe) on the flower photos."""
    from course_utils import data

    with tempfile.TemporaryDirectory(prefix="peer-") as tmp:
        out = Path(tmp) / "model"
        done = subprocess.run([sys.executable, "-m", "course_utils.cli.retrain", "--image_dir", str(data.flower_photos()),
                               "--architecture", "small_cnn", "--output_dir", str(out), "--seed", str(seed), "--quiet"],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"course-retrain failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        metrics = json.loads((out / "metrics.json").read_text())
    return {"model": "small_cnn", "seed": seed, "test_accuracy": metrics["test_accuracy"],
            "n_test": metrics["test"]["n_images"], "n_train": metrics["counts"]["train"]["total"],
            "train_seconds": round(metrics["times_seconds"]["train"], 1), "epochs": metrics["epochs"],
            "image_size": metrics["image_size"], "best_epoch": metrics.get("best_epoch")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=["tutorial", "small_cnn"])
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    result = run_tutorial(args.seed) if args.model == "tutorial" else run_small_cnn(args.seed)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The recipes the course teaches: the small CNN (layers, augmentation, schedule), the new
head on bottleneck features, fine-tuning, and the evaluation metrics.

GENERATED FILE: every function below is a code cell of a lesson marked ``#@save`` (the
comment above each one names the lesson). Edit the lesson, then run
``python tools/sync_lessons.py``; CI runs it with ``--check`` and fails on any difference.

Importing this module starts TensorFlow (quietly, through
:func:`course_utils.models.start_tensorflow`).
"""

from __future__ import annotations

import numpy as np

from course_utils import config, models

models.start_tensorflow()  # before Keras, so that TensorFlow's start-up notices stay hidden

import keras  # noqa: E402
from keras import layers  # noqa: E402

__all__ = [
    "augmentation_layers",
    "build_small_cnn",
    "compile_small_cnn",
    "end_to_end",
    "evaluate_predictions",
    "keep_best_weights",
    "new_head",
    "unfreeze_top",
    "warmup_cosine",
]


# --------------------------------------------------------------------------- notebooks/05_cnn_on_flowers.ipynb

# Lesson 05's recipe for a CNN trained from scratch: every setting of the network and its training, in one place.
# `course-retrain --architecture small_cnn` (lesson 08) trains with this same recipe.
SMALL_CNN_RECIPE = {
    "image_size": 64,  # pixels per side (section 1)
    "widths": (32, 64, 128, 256),  # filters per stage (section 2)
    "convs_per_stage": 2,
    "separable": True,
    "augment": {"flip": True, "rotation": 0.1, "zoom": 0.2},  # random distortions (section 4)
    "dropout": 0.4,  # section 5
    "epochs": 32,  # training with augmentation and dropout (section 6)
    "batch_size": 64,
    "learning_rate": 4e-3,  # the peak of the warm-up + cosine schedule
    "weight_decay": 0.02,
    "label_smoothing": 0.1,
}


# --------------------------------------------------------------------------- notebooks/05_cnn_on_flowers.ipynb

def build_small_cnn(num_classes, image_size, *, widths=(32, 64, 128, 256), convs_per_stage=2, separable=True,
                    dropout=0.0, augmentation=None, name="small_cnn"):
    """A small CNN for image_size x image_size colour photos with pixel values 0-255 (returned uncompiled).

    One stage per entry of `widths`, each with `convs_per_stage` 3x3 convolutions (a number, or one number per
    stage; depthwise-separable when `separable`) and a 2x2 max-pool between stages.
    """
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    per_stage = [convs_per_stage] * len(widths) if isinstance(convs_per_stage, int) else list(convs_per_stage)
    if not widths or len(per_stage) != len(widths):
        raise ValueError("widths needs at least one stage, and convs_per_stage one number per stage")
    conv = layers.SeparableConv2D if separable else layers.Conv2D
    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    x = inputs
    if augmentation is not None:
        x = augmentation(x)  # random distortions: on in fit() and in model(x) without training=False (section 4)
    x = layers.Rescaling(1.0 / 255, name="rescale")(x)
    x = layers.Conv2D(widths[0], 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(momentum=0.9, name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    for stage, width in enumerate(widths):
        if stage > 0:
            x = layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
        for i in range(per_stage[stage]):
            # no bias: the BatchNormalization right after has its own offset
            x = conv(width, 3, padding="same", use_bias=False, name=f"stage{stage}_conv{i}")(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"stage{stage}_bn{i}")(x)
            x = layers.Activation("relu", name=f"stage{stage}_relu{i}")(x)
    x = layers.GlobalAveragePooling2D(name="average")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    # float32 probabilities even when the layers compute in bfloat16 (COURSE_BF16=1, lesson_setup prints it)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


# --------------------------------------------------------------------------- notebooks/05_cnn_on_flowers.ipynb

def augmentation_layers(*, flip=True, rotation=0.0, zoom=0.15, translation=0.0, contrast=0.0, seed=config.SEED,
                        name="augmentation"):
    """Random distortions as Keras layers; a strength of 0 leaves a layer out.

    Active whenever the model runs in training mode: in `fit`, and in a direct call `model(x)` that does not pass
    `training=False` (`predict` and `evaluate` pass it for you).

    `rotation` is a fraction of a full turn (0.1 = up to 36 degrees); `zoom` and `translation` are fractions of
    the image size; `contrast` a contrast factor.
    """
    chosen = []
    if flip:
        chosen.append(layers.RandomFlip("horizontal", seed=seed, name=f"{name}_flip"))
    if rotation:
        chosen.append(layers.RandomRotation(rotation, fill_mode="reflect", seed=seed + 1, name=f"{name}_rotation"))
    if zoom:
        chosen.append(layers.RandomZoom(zoom, fill_mode="reflect", seed=seed + 2, name=f"{name}_zoom"))
    if translation:
        chosen.append(layers.RandomTranslation(translation, translation, fill_mode="reflect", seed=seed + 3,
                                               name=f"{name}_translation"))
    if contrast:
        chosen.append(layers.RandomContrast(contrast, seed=seed + 4, name=f"{name}_contrast"))
    return keras.Sequential(chosen, name=name)


# --------------------------------------------------------------------------- notebooks/05_cnn_on_flowers.ipynb

def warmup_cosine(peak_learning_rate, epochs, steps_per_epoch, *, warmup_epochs=3):
    """Learning rate: a linear warm-up from a tenth of the peak over the first epochs, then a cosine decay
    to 1 % of the peak by the last step."""
    warmup = min(warmup_epochs, max(epochs - 1, 0)) * steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(peak_learning_rate / 10,
                                                  decay_steps=max(1, epochs * steps_per_epoch - warmup), alpha=0.01,
                                                  warmup_target=peak_learning_rate, warmup_steps=warmup)


def compile_small_cnn(model, learning_rate, *, weight_decay=0.02, label_smoothing=0.1):
    """AdamW (weight decay) and cross-entropy with label smoothing, on one-hot labels."""
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing), metrics=["accuracy"])
    return model


def keep_best_weights(epochs):
    """A callback that, when training ends, puts back the weights of the epoch with the best validation accuracy."""
    return keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=epochs, restore_best_weights=True)


# --------------------------------------------------------------------------- notebooks/06_retraining_inception.ipynb

def new_head(num_features, num_classes, *, dropout=0.2, learning_rate=1e-3):
    """The new classifier on bottleneck features: dropout and one softmax layer, compiled with Adam."""
    head = keras.Sequential(
        [
            keras.Input(shape=(num_features,), name="bottleneck"),
            layers.Dropout(dropout, name="head_dropout"),
            # float32 probabilities even when the layers compute in bfloat16 (COURSE_BF16=1)
            layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions"),
        ],
        name="new_head",
    )
    head.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                 metrics=["accuracy"])
    return head


# --------------------------------------------------------------------------- notebooks/06_retraining_inception.ipynb

def end_to_end(net, head, *, augmentation=None, name=None):
    """One model from raw photos (0-255) to class probabilities: optional augmentation, the network's own
    preprocessing, the pretrained base (BatchNormalization kept in inference mode) and the new head."""
    photo = keras.Input(shape=(net.input_size, net.input_size, 3), name="image")
    x = photo if augmentation is None else augmentation(photo)
    x = models.preprocessing_layer(net.architecture.name)(x)  # 0..255 -> -1..1, like preprocess_input
    x = net.model(x, training=False)  # BatchNormalization stays in inference mode, also when fine-tuning
    return keras.Model(photo, head(x), name=name or f"{net.architecture.name}_retrained")


def unfreeze_top(net, model, *, learning_rate=1e-5):
    """Make the base trainable from layer `net.architecture.fine_tune_from` on (BatchNormalization stays frozen)
    and compile `model` for fine-tuning at a low learning rate; return the index of the first unfrozen layer."""
    names = [layer.name for layer in net.model.layers]
    if net.architecture.fine_tune_from not in names:
        raise ValueError(f"layer {net.architecture.fine_tune_from!r} not found in {net.model.name}")
    first = names.index(net.architecture.fine_tune_from)
    net.model.trainable = True
    for i, layer in enumerate(net.model.layers):
        layer.trainable = i >= first and not isinstance(layer, layers.BatchNormalization)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return first


# --------------------------------------------------------------------------- notebooks/07_evaluating_a_classifier.ipynb

def evaluate_predictions(y_true, probabilities, class_names):
    """Accuracy, precision/recall/F1 per class with their macro and weighted averages, and the confusion matrix,
    as plain numbers (an empty set of photos gives accuracy None)."""
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

    labels = list(range(len(class_names)))
    y_true = np.asarray(y_true)
    if len(y_true) == 0:
        return {"accuracy": None, "n_images": 0, "per_class": {},
                "confusion_matrix": np.zeros((len(labels), len(labels)), int).tolist()}
    y_pred = np.asarray(probabilities).argmax(axis=1)
    report = classification_report(y_true, y_pred, labels=labels, target_names=list(class_names), output_dict=True,
                                   zero_division=0)

    def scores(row):
        return {"precision": row["precision"], "recall": row["recall"], "f1": row["f1-score"]}

    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "n_images": int(len(y_true)),
        "per_class": {name: {**scores(report[name]), "support": int(report[name]["support"])} for name in class_names},
        "averages": {average: scores(report[f"{average} avg"]) for average in ("macro", "weighted")},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }

"""What bfloat16 mixed precision gives on this processor: speed against float32, and agreement.

Used by ``benchmarks/run.py --bf16``. Each format runs in its own process (Keras's dtype
policy is global)::

    python benchmarks/bf16.py float32
    python benchmarks/bf16.py mixed_bfloat16

prints one JSON line: Inception V3's forward speed (images/s) and its features for a fixed
random batch (for the agreement check), and the training speed of lesson 05's network.
"""

from __future__ import annotations

import json
import sys
import time


def measure(policy: str, *, size: int = 160, batch: int = 8, batches: int = 2) -> dict:
    from course_utils import models

    tf = models.start_tensorflow()
    import keras
    import numpy as np

    keras.mixed_precision.set_global_policy(policy)
    from course_utils import features, training

    net = models.pretrained_base("inception_v3", input_size=size)  # random weights offline: same arithmetic
    _, forward = features.feature_extractor(net)
    images = tf.random.stateless_uniform((batch, size, size, 3), (1, 2), 0, 255)
    forward(images).numpy()  # trace once
    start = time.perf_counter()
    for _ in range(batches):
        values = forward(images).numpy().astype("float32")
    inception = batch * batches / (time.perf_counter() - start)

    model = training.build_small_cnn(5, 64)
    training.compile_small_cnn(model, 1e-3)
    x = np.random.default_rng(0).integers(0, 255, (256, 64, 64, 3)).astype("uint8")
    y = keras.utils.to_categorical(np.arange(256) % 5, 5)
    model.fit(x[:32], y[:32], batch_size=32, epochs=1, verbose=0)  # compile the step
    start = time.perf_counter()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    cnn = len(x) / (time.perf_counter() - start)
    return {"policy": policy, "inception_images_per_second": round(inception, 2), "inception_input_size": size,
            "small_cnn_train_images_per_second": round(cnn, 1), "features": values[:, :64].round(5).tolist(),
            "random_weights": net.random_weights}


def compare(float32: dict, bfloat16: dict) -> dict:
    """Speed ratios and how closely the bfloat16 features follow the float32 ones (cosine per image)."""
    import numpy as np

    a, b = np.asarray(float32["features"]), np.asarray(bfloat16["features"])
    cosine = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
    return {"inception_speed_ratio": round(bfloat16["inception_images_per_second"]
                                           / float32["inception_images_per_second"], 3),
            "small_cnn_speed_ratio": round(bfloat16["small_cnn_train_images_per_second"]
                                           / float32["small_cnn_train_images_per_second"], 3),
            "feature_cosine_min": round(float(cosine.min()), 4)}


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1] if len(sys.argv) > 1 else "float32")))

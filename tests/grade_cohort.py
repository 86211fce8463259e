"""A small hand-made class of lab notebooks (nbformat, no training) for the grader's tests.

``lab_notebook`` writes the lab's own code (as the lab's text gives it) with outputs shaped like Keras 3's
(summary, fit logs, evaluate lines, figures) and an answer after each question; its arguments make the
variants a class hands in: settings changed, an output edited by hand, MNIST loaded for exercise 2, errors,
missing answers, answers written by ``mnistlab notebook``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random

from nbformat import v4

from mnistlab.grade import lab

PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000"
    "1ff5a0a8e0d0000000049454e44ae426082")).decode()
WORDS = ("réseau neurones couche poids gradient perte précision données image pixel modèle apprentissage "
         "validation entraînement époque batch activation sortie entrée classe erreur optimiseur softmax relu "
         "dense convolution filtre noyau bruit variance biais surapprentissage régularisation test jeu").split()

CODE = {
    "ex1.imports": "import tensorflow as tf\nfrom tensorflow.keras import Sequential\nfrom tensorflow.keras.layers "
                   "import Input, Dense, Flatten\nfrom tensorflow.keras.datasets import mnist\nimport matplotlib."
                   "pyplot as plt\nimport numpy as np\n\nprint(\"TensorFlow version:\", tf.__version__)",
    "ex1.load": "(x_train, y_train), (x_test, y_test) = {ds1}.load_data()\n\n# Normalisation\nx_train = x_train / "
                "255.0\nx_test = x_test / 255.0\n\nprint(\"x_train shape:\", x_train.shape)\nprint(\"y_train shape:"
                "\", y_train.shape)",
    "ex1.samples": "plt.figure(figsize=(8,3))\nfor i in range(10):\n    plt.subplot(2,5,i+1)\n    plt.imshow("
                   "x_train[i], cmap='gray')\n    plt.axis('off')\nplt.show()",
    "ex1.model": "model = Sequential([\n    Input(shape=(28, 28)),\n    Flatten(),\n    Dense({units}, activation="
                 "'relu'),\n    Dense(10, activation='softmax')\n])\n\nmodel.summary()",
    "ex1.compile": "model.compile(\n    optimizer='adam',\n    loss='sparse_categorical_crossentropy',\n    metrics="
                   "['accuracy']\n)",
    "ex1.fit": "history = model.fit(\n    x_train, y_train,\n    epochs={epochs},\n    batch_size=32,\n    "
               "validation_data=(x_test, y_test)\n)",
    "ex1.evaluate": "test_loss, test_acc = model.evaluate(x_test, y_test)\nprint(f\"Test accuracy: {{test_acc:.4f}}\")"
                    "\nprint(f\"Test loss: {{test_loss:.4f}}\")",
    "ex1.curve": "plt.plot(history.history['accuracy'], label='Précision entraînement')\nplt.plot(history.history["
                 "'val_accuracy'], label='Précision validation')\nplt.legend()\nplt.show()",
    "ex1.predictions": "predictions = model.predict(x_test)\nplt.figure(figsize=(10,4))\nfor i in range(5):\n    "
                       "plt.subplot(1,5,i+1)\n    plt.imshow(x_test[i], cmap='gray')\nplt.show()",
    "ex2.load": "import tensorflow as tf\nfrom tensorflow.keras.datasets import {ds2}\nimport matplotlib.pyplot as "
                "plt\n\ntf.random.set_seed(42)\n(X_train, y_train), (X_test, y_test) = {ds2}.load_data()\nprint("
                "\"Dimensions du train set :\", X_train.shape)",
    "ex2.preprocess": "from tensorflow.keras.utils import to_categorical\nX_train = X_train.astype('float32') / 255.0"
                      "\nX_test = X_test.astype('float32') / 255.0\ny_train_cat = to_categorical(y_train, 10)\n"
                      "y_test_cat = to_categorical(y_test, 10)",
    "ex2.ann.model": "from tensorflow.keras.models import Sequential\nfrom tensorflow.keras.layers import Input, "
                     "Flatten, Dense, Dropout\n\nmodel = Sequential([\n    Input(shape=(28, 28)),\n    Flatten(),\n"
                     "    Dense(128, activation='relu'),\n    Dropout(0.2),\n    Dense(64, activation='relu'),\n"
                     "    Dense(10, activation='softmax')\n])\n\nmodel.summary()",
    "ex2.ann.fit": "model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])\n\n"
                   "history = model.fit(X_train, y_train_cat, epochs=10, batch_size=128, validation_split=0.2)",
    "ex2.ann.evaluate": "test_loss, test_acc = model.evaluate(X_test, y_test_cat)\nprint(\"Précision sur le test "
                        "set :\", test_acc)",
    "ex2.cnn.model": "from tensorflow.keras.layers import Conv2D, MaxPooling2D\nX_train_cnn = X_train.reshape(-1, "
                     "28, 28, 1)\nX_test_cnn = X_test.reshape(-1, 28, 28, 1)\n\ncnn = Sequential([\n    Input(shape="
                     "(28, 28, 1)),\n    Conv2D(32, (3,3), activation='relu'),\n    MaxPooling2D((2,2)),\n    "
                     "Conv2D(64, (3,3), activation='relu'),\n    MaxPooling2D((2,2)),\n    Flatten(),\n    Dense("
                     "128, activation='relu'),\n    Dropout(0.3),\n    Dense(10, activation='softmax')\n])\ncnn."
                     "compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])\ncnn.summary()",
    "ex2.cnn.fit": "history_cnn = cnn.fit(\n    X_train_cnn, y_train_cat,\n    epochs=10,\n    batch_size=128,\n    "
                   "validation_split=0.2\n)",
    "ex2.cnn.evaluate": "test_loss, test_acc = cnn.evaluate(X_test_cnn, y_test_cat)\nprint(\"Précision CNN sur "
                        "test set :\", test_acc)",
    "ex2.activations": "from tensorflow.keras.layers import LeakyReLU\n\nactivations = ['sigmoid', 'tanh', "
                       "'relu']\nresults = {{}}\n\nfor act in activations:\n    model_act = Sequential([\n        "
                       "Input(shape=(28,28)),\n        Flatten(),\n        Dense(128, activation=act),\n        "
                       "Dense(64, activation=act),\n        Dense(10, activation='softmax')\n    ])\n    model_act."
                       "compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])\n    h = "
                       "model_act.fit(X_train, y_train_cat, epochs=5, batch_size=128, validation_split=0.2, verbose="
                       "0)\n    results[act] = h.history['val_accuracy'][-1]\nprint(results)\nplt.bar(results.keys(), "
                       "results.values())\nplt.show()",
    "ex2.confusion": "from sklearn.metrics import confusion_matrix, ConfusionMatrixDisplay\nimport numpy as np\n\n"
                     "y_pred = np.argmax(cnn.predict(X_test_cnn), axis=1)\nprint(confusion_matrix(y_test, y_pred))\n"
                     "ConfusionMatrixDisplay.from_predictions(y_test, y_pred, cmap=\"Blues\")\nplt.show()",
    "ex2.augment": "from tensorflow.keras.preprocessing.image import ImageDataGenerator\n\ndatagen = "
                   "ImageDataGenerator(\n    rotation_range=10,\n    zoom_range=0.1,\n    horizontal_flip=True\n)\n"
                   "datagen.fit(X_train_cnn)\n\ncnn.fit(\n    datagen.flow(X_train_cnn, y_train_cat, batch_size=128),"
                   "\n    epochs=10,\n    validation_data=(X_test_cnn, y_test_cat)\n)\ntest_loss, test_acc = cnn."
                   "evaluate(X_test_cnn, y_test_cat)\nprint(\"Précision CNN après augmentation :\", test_acc)",
}
FIT = {"ex1.fit": ("ex1", 5), "ex2.ann.fit": ("ex2.ann", 10), "ex2.cnn.fit": ("ex2.cnn", 10),
       "ex2.augment": ("ex2.augment", 10)}
EVAL = {"ex1.evaluate": "ex1", "ex2.ann.evaluate": "ex2.ann", "ex2.cnn.evaluate": "ex2.cnn",
        "ex2.augment": "ex2.augment"}
SUMMARY = {"ex1.model": "101,770", "ex2.ann.model": "109,386", "ex2.cnn.model": "225,034"}
FIGS = ("ex1.samples", "ex1.curve", "ex1.predictions", "ex2.activations", "ex2.confusion")
# Where each question's answer goes: after the code block of its section (the lab's order).
AFTER = {"ex1.1": "ex1.imports", "ex1.2": "ex1.load", "ex1.3": "ex1.samples", "ex1.4": "ex1.model",
         "ex1.5": "ex1.compile", "ex1.6": "ex1.fit", "ex1.7": "ex1.evaluate", "ex1.8": "ex1.curve",
         "ex1.9": "ex1.predictions", "ex2.1": "ex2.load", "ex2.2": "ex2.preprocess", "ex2.3": "ex2.ann.evaluate",
         "ex2.5": "ex2.cnn.evaluate", "ex2.4": "ex2.activations", "ex2.6": "ex2.confusion", "ex2.7": "ex2.augment"}


def lab_notebook(student: str, *, seed: int = 0, acc: dict | None = None, epochs: int = 5, units: int = 128,
                 ds2: str = "fashion_mnist", printed: float | None = None, error_in: str = "",
                 answers: bool = True, answer_text: dict | None = None, generated: bool = False) -> dict:
    """A lab notebook (JSON dict) as a student hands it in."""
    rng = random.Random(seed)
    acc = {"ex1": 0.9751, "ex2.ann": 0.8771, "ex2.cnn": 0.9065, "ex2.augment": 0.9112, **(acc or {})}
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(v4.new_markdown_cell(f"# TP 2\n\n**Nom** : {student}"))
    by_section: dict[str, list] = {}
    for q in lab.questions():
        by_section.setdefault(q.section, []).append(q)
    count = 0
    written = {}
    for block, template in CODE.items():
        src = template.format(ds1="mnist", ds2=ds2, epochs=epochs, units=units)
        count += 1
        cell = v4.new_code_cell(src, execution_count=count)
        cell.outputs = _outputs(block, rng, acc, epochs, printed, units)
        if block == error_in:
            cell.outputs = [v4.new_output("error", ename="ValueError", evalue="Shapes (None, 10) and (None, 1) "
                                          "are incompatible", traceback=[])]
        nb.cells.append(cell)
        for section, after in AFTER.items():
            if after != block:
                continue
            for q in by_section.get(section, []):
                nb.cells.append(v4.new_markdown_cell(f"**Question** : {q.text}"))
                if answers:
                    text = (answer_text or {}).get(q.key) or _answer(q.key, rng, acc, generated)
                    cell = v4.new_markdown_cell(f"**Réponse** : {text}")
                    nb.cells.append(cell)
                    if generated:  # as mnistlab notebook tags its cells
                        nb.cells[-2].metadata["mnistlab"] = {"question": q.key}
                        cell.metadata["mnistlab"] = {"answer": q.key}
                        written[cell.id] = hashlib.sha256(cell.source.encode()).hexdigest()[:16]
    nb.cells.append(v4.new_markdown_cell("### Analyse personnelle\n\n" + (
        " ".join(rng.choice(WORDS) for _ in range(60)) if answers else "")))
    if generated:
        code = {c.id: hashlib.sha256(c.source.encode()).hexdigest()[:16] for c in nb.cells if c.cell_type == "code"}
        nb.metadata[lab.generated_marker()] = {"version": "0.1.0", "generated_answers": written,
                                               "generated_code": code}
    return json.loads(json.dumps(nb))


def _answer(key: str, rng: random.Random, acc: dict, generated: bool) -> str:
    if key == "ex1.4.1":
        return "Le modèle contient 101 770 paramètres."
    if key == "ex1.2.3":
        return "Le jeu d'entraînement contient 60 000 images."
    if key == "ex1.7.1":
        return f"La précision finale sur le test est de {acc['ex1']:.4f}."
    if key == "ex1.1.3":
        return "La version installée est TensorFlow 2.21.0."
    if generated:  # the tool writes the same words for everyone: the lab's explanation of the question
        return lab.reference_answers("fr").get(key) or " ".join(rng.choice(WORDS) for _ in range(12))
    return " ".join(rng.choice(WORDS) for _ in range(12))


def _outputs(block: str, rng: random.Random, acc: dict, epochs: int, printed, units: int) -> list:
    out = []
    if block == "ex1.imports":
        out.append(v4.new_output("stream", name="stdout", text="TensorFlow version: 2.21.0\n"))
    elif block == "ex1.load":
        out.append(v4.new_output("stream", name="stdout", text="x_train shape: (60000, 28, 28)\ny_train shape: "
                                                               "(60000,)\n"))
    elif block in SUMMARY:
        total = f"{785 * units + (units + 1) * 10:,}" if block == "ex1.model" else SUMMARY[block]
        out.append(v4.new_output("stream", name="stdout", text=f'Model: "sequential"\n Total params: '
                                 f"{total} (1.2 MB)\n Trainable params: {total} (1.2 MB)\n"))
    elif block == "ex2.activations":
        out.append(v4.new_output("stream", name="stdout", text="{'sigmoid': 0.8651, 'tanh': 0.8712, 'relu': "
                                 f"{0.874 + (rng.random() - .5) * 0.004:.4f}}}\n"))
    elif block == "ex2.confusion":
        rows = [[1000 - 9 * 5 if i == j else 5 for j in range(10)] for i in range(10)]
        out.append(v4.new_output("stream", name="stdout", text="[" + "\n ".join(
            "[" + " ".join(f"{v:4d}" for v in r) + "]" for r in rows) + "]\n"))
    if block in FIT:
        step, n = FIT[block]
        n = epochs if step == "ex1" else n
        target = acc[step] if step == "ex1" else acc[step] + 0.004
        lines = []
        for e in range(1, n + 1):
            va = target - 0.03 * (n - e) / n + (rng.random() - .5) * 1e-3 if e < n else target
            lines.append(f"Epoch {e}/{n}\n\r1875/1875 \u2501\u2501\u2501\u2501 3s 1ms/step - accuracy: "
                         f"{va + 0.01:.4f} - loss: {0.3 / e + rng.random() * 0.01:.4f} - val_accuracy: {va:.4f} - "
                         f"val_loss: {0.25 / e + rng.random() * 0.01:.4f}\n")
        out.append(v4.new_output("stream", name="stdout", text="".join(lines)))
    if block in EVAL:
        a = acc[EVAL[block]]
        txt = f"313/313 \u2501\u2501\u2501\u2501 0s 1ms/step - accuracy: {a:.4f} - loss: 0.0812\n"
        shown = printed if (printed is not None and block == "ex1.evaluate") else a
        txt += (f"Test accuracy: {shown:.4f}\nTest loss: 0.0812\n" if block == "ex1.evaluate" else
                f"Précision sur le test set : {a}\n")
        out.append(v4.new_output("stream", name="stdout", text=txt))
    if block in FIGS or block == "ex2.load":
        out.append(v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}))
    return out


def bands_file(path) -> None:
    """A band file of hand-made reference values (the grader's tests never depend on the shipped one)."""
    from mnistlab.grade import bands

    def spread(center: float, sd: float) -> list[float]:
        return [center + sd * k for k in (-1.5, -1, -.5, -.2, 0, .1, .4, .8, 1.2, 1.6)]

    data = {"format": 1, "lab": "tp2", "n_runs": 10, "seeds": list(range(1, 11)), "note": "hand-made for tests",
            "versions": {"tensorflow": "2.21.0"}, "hardware": {"cpu_kind": "test"},
            "bands": {"ex1": {"test_accuracy": bands.summarise(spread(0.9750, 0.0012))},
                      "ex2.ann": {"test_accuracy": bands.summarise(spread(0.8770, 0.003))},
                      "ex2.cnn": {"test_accuracy": bands.summarise(spread(0.9060, 0.003))},
                      "ex2.activations": {"val_accuracy.relu": bands.summarise(spread(0.874, 0.002))},
                      "ex2.augment": {"test_accuracy": bands.summarise(spread(0.911, 0.003))}}}
    path.write_text(json.dumps(data), encoding="utf-8")


# --- the lab these hand-made notebooks were written for ----------------------------------------------------------

# Its steps. A step added to the lab later is absent from them, as from every notebook handed in before it: they
# are graded with the rubric's items of these steps, of their sections' questions and of the analysis only.
STEPS = ("ex1", "ex2.ann", "ex2.activations", "ex2.cnn", "ex2.confusion", "ex2.augment")


def written_for(item) -> bool:
    """A rubric item of the lab these notebooks were written for."""
    from mnistlab.lab import plan

    if item.kind in ("answer", "fact"):
        section = plan.load().sections.get(item.id.rsplit(".", 1)[0])
        return section is None or section.step in ("", *STEPS)
    return not item.step or item.step in STEPS


def fixture_rubric():
    """The shipped rubric with the items of :func:`written_for` only."""
    from mnistlab.grade import rubric

    shipped = rubric.load()
    return rubric.Rubric([i for i in shipped.items if written_for(i)], shipped.thresholds, shipped.source)


def rubric_file(path):
    """:func:`fixture_rubric` as a file for ``--rubric`` (the shipped file without the other items); its path."""
    import tomllib
    from importlib import resources

    from mnistlab.grade import rubric

    head, *items = (resources.files("mnistlab.grade") / rubric.DEFAULT).read_text(encoding="utf-8").split(
        "\n[[item]]\n")
    kept = [chunk for chunk in items if written_for(rubric.Item(**{k: tuple(v) if k == "needs" else v
                                                                 for k, v in tomllib.loads(chunk).items()}))]
    path.write_text("\n[[item]]\n".join([head, *kept]), encoding="utf-8")
    return path

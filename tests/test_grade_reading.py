"""Reading hand-written notebooks: small notebooks in the forms students write, each showing one rule of
the reader (answers placed by a section's name, to-do prose, the analysis on its heading's line, a cell that
trains two steps' models, a failed cell corrected below, execution counts)."""

from __future__ import annotations

from mnistlab.grade import answers, checks, parse, rubric, score
from mnistlab.grade import bands as bandmod


def md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def code(text: str, outputs: list | None = None, count: int | None = 1) -> dict:
    return {"cell_type": "code", "metadata": {}, "source": text, "outputs": outputs or [], "execution_count": count}


def out(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def err(ename: str, evalue: str) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]}


def nb(cells: list[dict]) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


def read(cells: list[dict]) -> dict[str, str]:
    got, _ = answers.read(parse.read(nb(cells)))
    return {k: a.text for k, a in got.items()}


def test_a_section_named_with_its_answer_on_the_line_answers_its_only_question_or_its_to_do_items():
    got = read([md("# Exercice 1"),
                md("**3 – À faire.** Les chiffres affichés sont 5, 0, 4 et 1, chaque label correspond."),
                md("# Exercice 2"),
                md("**Étape 1.** Des images de vêtements en niveaux de gris, 28 par 28."),
                md("**Étape 2 – Q1.** On normalise pour que les pixels soient entre 0 et 1.")])
    assert got["ex1.3.a"].startswith("Les chiffres") and got["ex1.3.b"] == got["ex1.3.a"]
    assert got["ex2.1.1"].startswith("Des images")
    assert got["ex2.2.1"].startswith("On normalise")  # the text after the label, with no colon


def test_a_section_heading_is_not_an_answer():
    got = read([md("# Exercice 2"), md("### Étape 1 – Exploration du jeu de données"), code("x = 1")])
    assert "ex2.1.1" not in got or not got["ex2.1.1"]


def test_a_bold_dotted_number_is_a_label_but_a_number_in_a_sentence_is_not():
    got = read([md("## Exercice 1"), md("**4.2** Softmax donne une probabilité par classe en sortie."),
                md("2.5 % des images sont mal classées, surtout des 4 et des 9 mal écrits.")])
    assert got["ex1.4.2"].startswith("Softmax")
    assert not got.get("ex1.2.5")


def test_to_do_prose_after_the_next_sections_code_is_not_the_previous_answer():
    got = read([md("## 2. Chargement et préparation du dataset"), code("x_train = x_train / 255.0"),
                md("**Q3.** On a 60 000 exemples pour l'entraînement."),
                code("import matplotlib.pyplot as plt\nfor i in range(10):\n    plt.subplot(2, 5, i + 1)\n"
                     "    plt.imshow(x_train[i], cmap='gray')\n    plt.title(y_train[i])"),
                md("Les chiffres sont 5 0 4 1 9 et les labels sont corrects pour chaque image.")])
    assert got["ex1.2.3"] == "On a 60 000 exemples pour l'entraînement."
    assert got["ex1.3.a"].startswith("Les chiffres")


def test_the_analysis_on_its_headings_line_after_a_period():
    text = " ".join(["mot"] * 45)
    _, analysis = answers.read(parse.read(nb([md(f"**Analyse personnelle.** {text}")])))
    assert analysis.words == 45


def test_words_are_counted_as_people_count_them():
    assert answers.Answer("chemise et t-shirt").words == 3
    assert answers.Answer("précision 0.9747 sur 28x28").words == 4


_CNN_AND_AUGMENT = """cnn = Sequential([Input(shape=(28, 28, 1)), Conv2D(32, (3, 3), activation='relu'),
    MaxPooling2D((2, 2)), Flatten(), Dense(10, activation='softmax')])
cnn.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
cnn.fit(X_train_cnn, y_train_cat, epochs=2, batch_size=128, validation_split=0.2)
test_loss, test_acc = cnn.evaluate(X_test_cnn, y_test_cat)
datagen = ImageDataGenerator(rotation_range=10)
cnn.fit(datagen.flow(X_train_cnn, y_train_cat, batch_size=128), epochs=3, validation_data=(X_test_cnn, y_test_cat))
"""


def _log(epochs: int, steps: int) -> str:
    return "".join(f"Epoch {e}/{epochs}\n{steps}/{steps} - 1s 3ms/step - accuracy: 0.8{e} - loss: 0.3 - val_accuracy: "
                   f"0.90{e} - val_loss: 0.27\n" for e in range(1, epochs + 1))


def test_a_cell_training_the_cnn_then_the_augmented_model_gives_each_its_own_log():
    cell = code(_CNN_AND_AUGMENT, [out(_log(2, 375)), out("313/313 - 2s 5ms/step - accuracy: 0.9044 - loss: 0.2659\n"),
                                   out(_log(3, 469))])
    nbk = parse.read(nb([code("from tensorflow.keras.datasets import fashion_mnist\n"
                              "(X_train, y_train), (X_test, y_test) = fashion_mnist.load_data()"), cell]))
    assert len(nbk.steps["ex2.cnn"].fit_log) == 2 and len(nbk.steps["ex2.augment"].fit_log) == 3
    assert nbk.steps["ex2.cnn"].evaluate


_CNN = """cnn = Sequential([Input(shape=(28, 28, 1)), Conv2D(32, (3, 3), activation='relu'), {pool}((2, 2)),
    Conv2D(64, (3, 3), activation='relu'), {pool}((2, 2)), Flatten(), Dense(128, activation='relu'),
    Dropout(0.3), Dense(10, activation='softmax')])
cnn.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
cnn.summary()"""


def test_a_failed_cell_corrected_below_costs_the_step_nothing():
    load = code("from tensorflow.keras.datasets import fashion_mnist\n"
                "(X_train, y_train), (X_test, y_test) = fashion_mnist.load_data()")
    typo = code("from tensorflow.keras.layers import MaxPooling2d\n" + _CNN.format(pool="MaxPooling2d"),
                [err("ImportError", "cannot import name 'MaxPooling2d'")], count=2)
    fixed = code("from tensorflow.keras.layers import MaxPooling2D\n" + _CNN.format(pool="MaxPooling2D"), count=3)
    nbk = parse.read(nb([load, typo, fixed]))
    assert nbk.steps["ex2.cnn"].errors == [] and nbk.errors  # cell-errors still names the failed cell
    assert [ly.kind for ly in nbk.steps["ex2.cnn"].layers].count("MaxPooling2D") == 2
    g = score.grade(nbk, rubric.load(), bandmod.load(None))
    assert next(m for m in g.marks if m.item == "ex2.cnn.code").points == 1.0
    assert not any(f.startswith("settings-differ") for f, _ in g.flags)
    alone = parse.read(nb([load, typo]))
    assert alone.steps["ex2.cnn"].errors  # not corrected: the error counts


def test_rising_execution_counts_from_any_start_are_in_order():
    def counts(*ns):
        return checks.order(parse.read(nb([code("x = 1", count=n) for n in ns])))

    assert counts(2, 3, 5, 9) == []
    assert [f for f, _ in counts(1, 2, 7, 5)] == ["out-of-order"]


def test_labels_that_count_the_to_do_items_give_them_first():
    viz = ("import matplotlib.pyplot as plt\nfor i in range(10):\n    plt.subplot(2, 5, i + 1)\n"
           "    plt.imshow(x_train[i], cmap='gray')\n    plt.title(y_train[i])")
    answers_ = ["Les chiffres affichés sont 5 0 4 1 9.", "Les labels correspondent bien aux images.",
                "On change la valeur dans range et la grille.", "Une palette de gris pour les images.",
                "Contrôler les données avant de les utiliser."]
    got = read([md("## 3. Visualisation d'échantillons"), code(viz),
                md("\n\n".join(f"Q{n} : {a}" for n, a in enumerate(answers_, 1)))])
    assert [got[k] for k in ("ex1.3.a", "ex1.3.b", "ex1.3.1", "ex1.3.2", "ex1.3.3")] == answers_
    three = read([md("## 3. Visualisation d'échantillons"), code(viz),
                  md("\n\n".join(f"Q{n} : {a}" for n, a in enumerate(answers_[2:], 1)))])
    assert [three[k] for k in ("ex1.3.1", "ex1.3.2", "ex1.3.3")] == answers_[2:]


def test_one_sentence_like_the_tools_is_not_generated_answers_three_are():
    from mnistlab.grade import lab

    texts = [t for t in lab.tool_texts() if "{" not in t and len(t.split()) >= 18][:3]
    assert len(texts) == 3

    def flags(k: int) -> list[str]:
        cells = [md("## 1. Import des bibliothèques")]
        cells += [md(f"**Q{n}.** {t}") for n, t in enumerate(texts[:k], 1)]
        g = score.grade(parse.read(nb(cells)), rubric.load(), bandmod.load(None))
        return [f for f, _ in g.flags]

    assert "generated-answers" not in flags(1)
    assert "generated-answers" in flags(3)


_ANN_THEN_SILENT_STUDY = """ann = Sequential([Input(shape=(28, 28)), Flatten(), Dense(128, activation='relu'),
    Dense(10, activation='softmax')])
ann.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
h = ann.fit(X_train, y_train, epochs=3, batch_size=128, validation_split=0.2)
print(ann.evaluate(X_test, y_test))
results = {}
for act in ['sigmoid', 'tanh', 'relu']:
    m = Sequential([Input(shape=(28, 28)), Flatten(), Dense(128, activation=act), Dense(10, activation='softmax')])
    m.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
    results[act] = m.fit(X_train, y_train, epochs=2, validation_split=0.2, verbose=0).history['val_accuracy'][-1]
model_leaky = Sequential([Input(shape=(28, 28)), Flatten(), Dense(128), LeakyReLU(0.1),
                          Dense(10, activation='softmax')])
model_leaky.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
h = model_leaky.fit(X_train, y_train, epochs=2, validation_split=0.2, verbose=0)
results['LeakyReLU'] = h.history['val_accuracy'][-1]
print(results)
y_pred = ann.predict(X_test).argmax(axis=1)
ConfusionMatrixDisplay.from_predictions(y_test, y_pred)"""


def test_a_cell_with_a_logged_fit_then_silent_steps_gives_the_log_to_the_logged_fit_only():
    png = {"output_type": "display_data", "metadata": {},
           "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}}
    cell = code(_ANN_THEN_SILENT_STUDY, [out(_log(3, 375) + "313/313 - 1s 2ms/step - accuracy: 0.8771 - loss: 0.35\n"
                                             "{'sigmoid': 0.866, 'tanh': 0.874, 'relu': 0.879, 'LeakyReLU': 0.871}\n"),
                                         png])
    nbk = parse.read(nb([code("from tensorflow.keras.datasets import fashion_mnist\n"
                              "(X_train, y_train), (X_test, y_test) = fashion_mnist.load_data()"), cell]))
    assert len(nbk.steps["ex2.ann"].fit_log) == 3 and nbk.steps["ex2.ann"].evaluate
    assert not nbk.steps["ex2.activations"].fit_log  # its fits log nothing (verbose=0): the ANN's log is not its
    assert nbk.steps["ex2.activations"].activations and nbk.steps["ex2.confusion"].figures
    assert not [f for f, _ in checks.consistency(nbk, 0.002) if f.startswith("outputs-inconsistent")]


def test_html_details_blocks_read_as_a_bold_question_and_its_answer():
    got = read([md("## Exercice 1\n\n### 4. Construction du modèle"), code("x = 1"),
                md("<details>\n<summary><b>Combien de paramètres ?</b></summary>\n\n101 770 paramètres au total "
                   "dans le modèle.\n\n</details>\n\n<details>\n<summary><b>Activation de la couche de sortie ? "
                   "Pourquoi ?</b></summary>\n\nSoftmax, pour une probabilité par classe.\n\n</details>")])
    assert got["ex1.4.1"].startswith("101 770") and "<" not in got["ex1.4.1"]
    assert got["ex1.4.2"].startswith("Softmax")


def test_the_analysis_under_an_opinion_or_interpretation_heading():
    text = " ".join(["mot"] * 45)
    for head in ("## Mon avis", "## Ce que j'en retiens", "## Interprétation", "**Interprétation des résultats**"):
        _, analysis = answers.read(parse.read(nb([md("# Exercice 1"), md(f"{head}\n\n{text}")])))
        assert analysis.words == 45, head


def test_a_numbered_list_of_questions_then_a_titled_list_of_bullets_answers_them_in_order():
    got = read([md("# Exercice 2"), md("### Étape 2 – Prétraitement des données"), code("x = 1"),
                md("**Questions :**\n\n1. Pourquoi faut-il normaliser les images ?\n2. Quelle est l'importance du "
                   "one-hot encoding dans un problème de classification multiclasse ?"),
                md("Réponses\n\n- Normaliser met les pixels entre 0 et 1, l'apprentissage est plus stable.\n"
                   "- Le one-hot donne un vecteur binaire par classe, comme la sortie softmax.")])
    assert got["ex2.2.1"].startswith("Normaliser") and "one-hot" not in got["ex2.2.1"]
    assert got["ex2.2.2"].startswith("Le one-hot")


def test_the_labs_kaggle_csv_files_load_their_data_set():
    nbk = parse.read(nb([code('import pandas as pd\ntrain = pd.read_csv("data/mnist_train.csv")'),
                         code('train2 = pd.read_csv("fashion-mnist_train.csv")'),
                         code('other = pd.read_csv("notes.csv")')]))
    assert nbk.datasets == {"ex1": "mnist", "ex2": "fashion_mnist"}


def test_activation_accuracies_printed_side_by_side_on_one_line():
    from mnistlab.grade import outputs

    got = outputs.activation_lines("sigmoid=0.8599  tanh=0.8702  relu=0.8671  leaky=0.8688\n")
    assert got == {"sigmoid": 0.8599, "tanh": 0.8702, "relu": 0.8671, "leaky_relu": 0.8688}


def test_the_one_cell_listing_as_many_answers_as_questions_answers_them_beside_a_remark():
    got = read([md("## Exercice 1"), md("### 9. Prédiction et visualisation"), code("x = 1"),
                md("**Erreurs ?** → Pas d'erreur sur ces cinq images, environ 240 sur tout le test.\n\n"
                   "**Expliquer une erreur ?** → Des chiffres mal écrits ou qui en imitent un autre.\n\n"
                   "**Améliorer ?** → Utiliser un CNN, plus adapté aux images."),
                md("J'ai relancé cette cellule deux fois, les images affichées changent à chaque fois.")])
    assert got["ex1.9.1"].startswith("**Erreurs") and got["ex1.9.3"].startswith("**Améliorer")


def test_a_bold_numbered_question_is_its_parts_question_not_a_parts_title():
    got = read([md("## Exercice 1"), md("### 2. Données"), code("(x_train, y_train), (x_test, y_test) = "
                                                                "mnist.load_data()"),
                md("**1. Pourquoi normaliser ?**\n> Pour que l'apprentissage converge plus vite.\n\n"
                   "**2. Taille et type d'une image ?**\n> Une image fait 28x28, en float64.\n\n"
                   "**3. Nombre d'exemples d'entraînement ?**\n> Le train contient 60000 exemples.")])
    assert got["ex1.2.1"].lstrip("> ").startswith("Pour que") and "ex2.2.1" not in got
    assert got["ex1.2.3"].lstrip("> ").startswith("Le train")


def test_a_step_and_question_number_joined_by_a_dot_name_the_question():
    got = read([md("# Exercice 2"), code("from tensorflow.keras.datasets import fashion_mnist\n"
                                         "(X_train, y_train), (X_test, y_test) = fashion_mnist.load_data()"),
                md("**Étape 3.1 Pourquoi ReLU ?**\n> Elle est simple et limite le gradient qui disparaît.\n\n"
                   "**Étape 3.3 50 époques ?**\n> Surapprentissage : l'écart entre train et validation grandit.")])
    assert got["ex2.3.1"].lstrip("> ").startswith("Elle est simple")
    assert got["ex2.3.3"].lstrip("> ").startswith("Surapprentissage")


def test_numbered_answers_fewer_than_the_questions_go_by_their_numbers():
    load = "from tensorflow.keras.datasets import mnist, fashion_mnist\n(x, y), (xt, yt) = mnist.load_data()"
    got = read([code(load),
                code("(X, Y), (Xt, Yt) = fashion_mnist.load_data()"),
                code(_CNN.format(pool="MaxPooling2D")),
                md("1) le CNN utilise des convolutions\n3) le pooling réduit la taille des images")])
    assert got["ex2.5.1"].startswith("le CNN") and got["ex2.5.3"].startswith("le pooling")
    assert not got.get("ex2.5.2")


def test_each_comment_line_after_a_parts_code_is_one_answer():
    cells = [code("import tensorflow as tf\nfrom tensorflow.keras.datasets import mnist\n"
                  "import matplotlib.pyplot as plt\nprint(tf.__version__)", [out("2.17.0\n")]),
             code("(x_train, y_train), (x_test, y_test) = mnist.load_data()\nx_train = x_train / 255.0"),
             code("for i in range(10):\n    plt.subplot(2, 5, i + 1)\n"
                  "    plt.imshow(x_train[i], cmap='gray')\nplt.show()"),
             code("model = Sequential([\n    Input(shape=(28, 28)),\n    Flatten(),\n"
                  "    Dense(128, activation='relu'),\n"
                  "    Dense(10, activation='softmax')\n])\nmodel.summary()"),
             code("model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])"),
             code("history = model.fit(\n    x_train, y_train,\n    epochs=5,\n    batch_size=32,\n"
                  "    validation_data=(x_test, y_test)\n)\n# la précision augmente oui les deux\n"
                  "# une époque = un passage sur les données\n# pour valider le modèle\n# ça prendrait plus de temps",
                  [out(_log(5, 1875))])]
    got = read(cells)
    assert got["ex1.6.1"].startswith("une époque") and got["ex1.6.3"].startswith("ça prendrait")

"""Words shown to people (figure labels, class names), in French (the lab's language) and English."""

from __future__ import annotations

LANGS = ("fr", "en")

CLASS_NAMES = {
    "en": {
        "mnist": [str(i) for i in range(10)],
        "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    },
    # The lab's own French names: T-shirt, pantalon, pull, robe, manteau, sandale, chemise, basket, sac,
    # bottine.
    "fr": {
        "mnist": [str(i) for i in range(10)],
        "fashion_mnist": ["T-shirt", "Pantalon", "Pull", "Robe", "Manteau",
                          "Sandale", "Chemise", "Basket", "Sac", "Bottine"],
    },
}

TEXT = {
    "fr": {
        "label": "Label : {}",
        "true_pred": "Vrai : {}\nPrédit : {}",
        "epochs": "Époques",
        "accuracy": "Précision (accuracy)",
        "loss": "Perte (loss)",
        "train_acc": "Précision entraînement",
        "val_acc": "Précision validation",
        "train_loss": "Perte entraînement",
        "val_loss": "Perte validation",
        "acc_title": "Courbe de précision — {}",
        "loss_title": "Courbe de perte — {}",
        "activations_title": "Comparaison des fonctions d'activation",
        "val_accuracy": "Précision de validation (dernière époque)",
        "confusion_title": "Matrice de confusion — {}",
        "true_label": "Classe réelle",
        "pred_label": "Classe prédite",
        "augmented_title": "Exemples augmentés (rotation, zoom, miroir)",
        "original": "original",
        "mistakes_title": "Erreurs les plus confiantes — {}",
        "mistake": "Vrai : {}\nPrédit : {} ({:.0%})",
        "best_val_loss_at": "Perte de validation minimale (époque {})",
        "val_acc_per_epoch": "Précision de validation par époque — {}",
        "activations_seeds_title": "Fonctions d'activation : moyenne ± écart-type sur {} graines",
        "test_accuracy": "Précision sur le test",
    },
    "en": {
        "label": "Label: {}",
        "true_pred": "True: {}\nPredicted: {}",
        "epochs": "Epochs",
        "accuracy": "Accuracy",
        "loss": "Loss",
        "train_acc": "Training accuracy",
        "val_acc": "Validation accuracy",
        "train_loss": "Training loss",
        "val_loss": "Validation loss",
        "acc_title": "Accuracy curve — {}",
        "loss_title": "Loss curve — {}",
        "activations_title": "Activation functions compared",
        "val_accuracy": "Validation accuracy (last epoch)",
        "confusion_title": "Confusion matrix — {}",
        "true_label": "True class",
        "pred_label": "Predicted class",
        "augmented_title": "Augmented examples (rotation, zoom, flip)",
        "original": "original",
        "mistakes_title": "Most confident mistakes — {}",
        "mistake": "True: {}\nPredicted: {} ({:.0%})",
        "best_val_loss_at": "Lowest validation loss (epoch {})",
        "val_acc_per_epoch": "Validation accuracy per epoch — {}",
        "activations_seeds_title": "Activation functions: mean ± std over {} seeds",
        "test_accuracy": "Test accuracy",
    },
}


def class_names(dataset: str, lang: str = "fr") -> list[str]:
    """The ten class names of ``dataset`` in ``lang``."""
    return CLASS_NAMES[lang][dataset]


def text(key: str, lang: str = "fr") -> str:
    """A figure string in ``lang``; ``str.format`` it where it has ``{}``."""
    return TEXT[lang][key]

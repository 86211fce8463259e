"""The local demo page of ``mnistlab serve``: draw or upload an image, see what the model saw and thinks."""

"""mnistlab: the TP 2 deep-learning lab (MNIST, Fashion-MNIST with Keras) as one reproducible command."""

__version__ = "0.1.0"

"""Run configurations shipped with arc-seal (installed as ``arc_seal.configs``)."""

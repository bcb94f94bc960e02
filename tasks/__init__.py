"""Task subsets shipped with arc-seal (installed as ``arc_seal.tasks``)."""

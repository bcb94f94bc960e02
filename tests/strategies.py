"""Hypothesis strategies for grids and tasks."""

import numpy as np
from hypothesis import strategies as st

from arc_seal.grid import Example, Task


@st.composite
def grids(draw, min_side: int = 1, max_side: int = 30) -> np.ndarray:
    h = draw(st.integers(min_side, max_side))
    w = draw(st.integers(min_side, max_side))
    cells = draw(st.lists(st.integers(0, 9), min_size=h * w, max_size=h * w))
    return np.array(cells, dtype=np.int8).reshape(h, w)


@st.composite
def tasks(draw, max_side: int = 30, max_demos: int = 4) -> Task:
    n = draw(st.integers(1, max_demos))
    demos = [
        Example(draw(grids(max_side=max_side)), draw(grids(max_side=max_side))) for _ in range(n)
    ]
    test = Example(draw(grids(max_side=max_side)), draw(grids(max_side=max_side)))
    return Task("hypothesis", demos, [test])

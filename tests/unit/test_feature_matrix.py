"""The training feature matrix is built without intermediate copies (docs/scale.md) and equals what
scikit-learn's FeatureUnion and scipy's slicing give."""

import numpy as np
import pytest
from scipy import sparse

from core.fitting.features import csr_row_slice, hstack_csr


@pytest.fixture()
def blocks():
    rng = np.random.default_rng(3)
    words = sparse.random(50, 30, density=0.1, format="csr", random_state=4, dtype=np.float64)
    dense = rng.normal(size=(50, 7))
    dense[[2, 9]] = 0.0  # a text with no known token has an all-zero embedding
    dense[5, 3] = 0.0
    return words, dense


@pytest.mark.parametrize("chunk_rows", [1, 7, 1000])
def test_hstack_csr_equals_scipy_hstack_whatever_the_chunk(blocks, chunk_rows):
    words, dense = blocks
    got = hstack_csr([words, dense], chunk_rows=chunk_rows)
    want = sparse.hstack([words, dense]).tocsr()
    assert got.format == "csr" and got.dtype == np.float64 and got.shape == (50, 37)
    assert got.nnz == want.nnz  # zeros of the dense block are not stored
    assert np.array_equal(got.indptr, want.indptr)
    assert np.array_equal(got.indices, want.indices)
    assert np.array_equal(got.data, want.data)


def test_a_single_sparse_block_is_not_copied(blocks):
    words, _ = blocks
    assert hstack_csr([words]) is words


@pytest.mark.parametrize(("start", "stop"), [(0, 45), (0, 20), (20, 50), (13, 14), (7, 7)])
def test_row_slice_equals_scipy_slicing_and_shares_the_arrays_when_large(blocks, start, stop):
    matrix = hstack_csr(list(blocks))
    view = csr_row_slice(matrix, start, stop)
    assert (view != matrix[start:stop]).nnz == 0 and view.shape == (stop - start, 37)
    if view.nnz >= matrix.nnz / 2:  # the training rows of the refit matrix: 90 % of it
        assert np.shares_memory(view.data, matrix.data) and np.shares_memory(view.indices, matrix.indices)
